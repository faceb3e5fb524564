"""lint_description: labels, threats, grudges, shouting and private data; facts pass untouched."""

from __future__ import annotations

from typing import Any

import pytest

from disputebot.policy.objectivity import (
    RULES,
    TERM_RULES,
    Finding,
    Lexicon,
    ObjectivityRules,
    lint_description,
)

FACTUAL_EN = [
    "Order 8161234567890123 was marked delivered on 2026-03-04 but tracking LP00123456789012 "
    "shows it never left Shenzhen. The seller opened a dispute claiming I received it.",
    "I ordered a phone case (order 3034567890123456) on 12 February 2026. The seller uploaded "
    "tracking number RU123456789CN, which belongs to a parcel delivered to another city.",
    "The listing said 128GB, the USB drive I received is 8GB according to H2testw. Photos of "
    "the test result and the package label are attached.",
    "Tracking YT2312345678901234 has shown 'Accepted by carrier' since 03/04/2026 with no "
    "further scans. The seller refuses to extend the buyer protection period.",
    "The seller sent an empty envelope weighing 12 g instead of a 450 g power bank. The "
    "weight on the shipping label is 0.012 kg, which matches an empty envelope.",
    "On 2026-02-28 the seller changed the product description after my order to say the "
    "battery is not included. My screenshot from 2026-02-20 shows it was included.",
    "Order 8161234567890123, paid US $23.99 on 2026-01-15. Store 1102345678 marked the item "
    "as shipped on 2026-01-16 but the tracking LP00123456789012 was created on 2026-02-01.",
    "The seller opened dispute 5012345678901234 claiming the parcel was refused by me. I was "
    "never contacted by the courier and there is no delivery attempt in the tracking history.",
    "I received a different model: the listing shows the X200 Pro, the box contains an X100. "
    "The serial number on the device is SN2026A0034512.",
    "The product page hid that the charger has a US plug. This was only mentioned in picture 7 "
    "of 9, in small text, not in the description or the specifications.",
    "The parcel tracking changed from 'In transit' to 'Delivered' within 4 minutes on "
    "2026-03-10 14:02 and 14:06, both in different countries.",
    "Between 2026-01-05 and 2026-01-20 I placed three orders with this store: "
    "8161234567890121, 8161234567890122 and 8161234567890123. All three have the same "
    "tracking number LP00123456789012.",
    "The seller asked me in chat to close the dispute and promised a partial refund of "
    "$5.00, then opened a counter-dispute the next day saying I damaged the item.",
    "My package weighed 1.2 kg according to the Cainiao record, but the item I ordered weighs "
    "3.5 kg. The seller shipped something else to get a valid tracking number.",
    "The dimensions in the listing were 120 x 60 x 75 cm; the desk delivered is 80 x 40 x 60 "
    "cm. I measured it, the photos with a tape measure are attached.",
    "Price was 45.99 EUR with a coupon. After the order the seller raised the price to "
    "1,299.00 EUR and cancelled, then claimed the buyer asked to cancel.",
    "The dispute says I returned an empty box. The return tracking RR123456785CN shows a "
    "weight of 2.3 kg, the same as the original shipment.",
    "I keep records of everything: order 3034567890123456 placed 2026-03-01 10:15, shipped "
    "2026-03-02, tracking UB123456789CN, 'delivered' 2026-03-03 to a pickup point in Madrid "
    "while I live in Valencia.",
    "The seller claims the item was a gift and cannot be disputed. The order confirmation "
    "shows I paid 18.50 USD for it.",
    "AliExpress support ticket 2026030412345 confirms the carrier lost the parcel, but the "
    "seller still opened a dispute saying I must pay for the return shipping.",
    "The store sent 2 pcs instead of the 10 pcs listed. The package label says QTY: 2. The "
    "listing title says 10 pcs, see screenshot 1.",
    "Seller used DHL tracking 1234567890 for my order; DHL says that shipment went from "
    "Leipzig to Prague on 2026-02-11.",
    "I hope this helps the review. I have attached the unboxing video frames and the chat "
    "history with the seller from 2026-03-05.",
    "The product was advertised as waterproof IP68. It stopped working after washing my hands "
    "with it on. The seller's reply was that IP68 does not mean waterproof.",
]

FACTUAL_ZH = [
    "订单号8161234567890123于2026年3月4日显示已签收，但物流单号LP00123456789012显示包裹从未离开"
    "深圳。卖家发起纠纷称我已收到货物。",
    "我在2026年2月12日购买了一个手机壳（订单3034567890123456），卖家上传的物流单号"
    "RU123456789CN属于另一个城市已签收的包裹。",
    "商品页面写的是128GB，实际收到的U盘用H2testw测试只有8GB，测试结果截图和包装标签照片已附上。",
    "物流单号YT2312345678901234自2026年3月4日起一直显示“承运商已揽收”，之后没有任何更新。",
    "卖家寄来的是一个12克的空信封，而不是450克的充电宝。运单上的重量是0.012千克。",
    "2026年2月28日卖家在我下单后修改了商品描述，改成不含电池。我2026年2月20日的截图显示含电池。",
    "店铺1102345678在2026年1月16日标记已发货，但物流单号LP00123456789012是2026年2月1日才生成的。",
    "卖家发起纠纷5012345678901234，称我拒收包裹。快递员从未联系过我，物流记录中没有派送记录。",
    "收到的型号不对：商品页面是X200 Pro，盒子里是X100，设备序列号是SN2026A0034512。",
    "商品页面隐瞒了充电器是美规插头，只在9张图片中的第7张用小字注明，描述和规格里都没有写。",
    "同一天14:02和14:06，物流状态从“运输中”变成“已签收”，两条记录在不同的国家。",
    "我在这家店下了三个订单：8161234567890121、8161234567890122和8161234567890123，三个订单"
    "用的是同一个物流单号LP00123456789012。",
    "卖家在聊天中让我关闭纠纷并答应部分退款5美元，第二天却反过来发起纠纷说我损坏了商品。",
    "菜鸟记录显示包裹重1.2千克，而我买的商品重3.5千克，卖家寄了别的东西来获取有效的物流单号。",
    "下单价格是45.99欧元，下单后卖家把价格改成1299欧元并取消订单，然后说是买家要求取消的。",
    "卖家说我退回的是空盒子，但退货物流RR123456785CN显示重量2.3千克，和原包裹一样。",
    "设备过去死机过一次，卖家说是我摔坏的，但外壳没有任何磕碰，照片已附上。",
    "给我妈的礼物，收到后发现颜色和图片不一致，页面滚动到底部才看到“颜色以实物为准”。",
    "卖家的结算账户信息和店铺名称不一致，物流单号UB123456789CN的寄件人是另一家公司。",
    "包裹于2026-03-03显示送达马德里的自提点，但我住在瓦伦西亚，从未去过那个自提点。",
]

NUMBERS = [
    "Order 8161234567890123",
    "order 3034567890123456",
    "Order no. 8161234567890123 and 8161234567890124",
    "Orders: 8161234567890121, 8161234567890122, 8161234567890123.",
    "Tracking LP00123456789012",
    "tracking RU123456789CN",
    "YT2312345678901234",
    "Cainiao LP00123456789012 / RR123456785CN / UB123456789CN",
    "Store 1102345678, item 1005006123456789",
    "https://www.aliexpress.com/item/1005006123456789.html",
    "https://www.aliexpress.com/store/1102345678",
    "Delivered on 2026-03-04 at 14:35:12",
    "between 2026.03.04 and 2026.03.10",
    "on 03/04/2026",
    "04.03.2026 - 10.03.2026",
    "2026年3月4日",
    "Paid US $23.99, refund of $1,299.00 requested",
    "Price 1 299,00 EUR",
    "Weight 0.012 kg, size 120 x 60 x 75 cm",
    "Dispute 5012345678901234 opened 2026-03-05",
    "Serial SN2026A0034512, model X200-1234-5678",
    "DHL 1234567890",
    "UPS 1Z999AA10123456784",
    "Tracking LP 0012 3456 7890 12",
    "order 8161 2345 6789 0123",
    "Qty 2 of 10 pcs, 3 x 4 m",
    "Support ticket 2026030412345",
    "ISBN 978-3-16-148410-0",
    "IMEI 356938035643809",
    "订单号8161234567890123",
    "物流单号：LP00123456789012",
    "订单3034567890123456于2026-03-04签收",
    "店铺ID：1102345678",
    "Timestamps 10:15-12:30 and 14:02",
]

PHONES = [
    ("Call the seller's warehouse manager at +7 912 345-67-89.", "+7 912 345-67-89"),
    ("His number is +8613800138000", "+8613800138000"),
    ("whatsapp +86 138 0013 8000 please", "+86 138 0013 8000"),
    ("UK office +44 20 7946 0958", "+44 20 7946 0958"),
    ("+1 (555) 123-4567 is the owner", "+1 (555) 123-4567"),
    ("phone (555) 123-4567", "(555) 123-4567"),
    ("phone 555-123-4567", "555-123-4567"),
    ("phone 555.123.4567", "555.123.4567"),
    ("phone 555 123 4567", "555 123 4567"),
    ("the driver, 13800138000, told me", "13800138000"),
    ("卖家电话13800138000", "13800138000"),
    ("联系人手机：139-1234-5678", "139-1234-5678"),
    ("他的手机号是 186 1234 5678", "186 1234 5678"),
    ("call 8 (912) 345-67-89 after 6", "8 (912) 345-67-89"),
    ("office 0755-12345678", "0755-12345678"),
    ("landline 020 7946 0958", "020 7946 0958"),
    ("电话：＋８６ １３８ ００１３ ８０００", "＋８６ １３８ ００１３ ８０００"),
]

EMAILS = [
    ("Write to zhang.wei.shop@gmail.com for details", "zhang.wei.shop@gmail.com"),
    ("the owner is Jane.Doe+ali@example.co.uk.", "Jane.Doe+ali@example.co.uk"),
    ("卖家邮箱12345678@qq.com", "12345678@qq.com"),
    ("Contact: sales@shenzhen-xinda-electronics.cn", "sales@shenzhen-xinda-electronics.cn"),
    ("(mailto seller_2026@163.com)", "seller_2026@163.com"),
]

TERMS = [
    # insults
    ("The seller is an idiot who cannot read an address.", "insult", "idiot"),
    ("You are a stuuupid person", "insult", "stuuupid"),
    ("what a MORON", "insult", "MORON"),
    ("these id\u200biots sent the wrong item", "insult", "id\u200biots"),
    ("the 1d1ot sent an empty box", "insult", "1d1ot"),
    ("Complete @sshole behaviour", "insult", "@sshole"),
    ("Piece of shit store", "insult", "Piece of shit"),
    ("f*** this, fuck you seller", "insult", "fuck you"),
    ("Go to hell with your fake tracking", "insult", "Go to hell"),
    ("what a pathetic loser", "insult", "pathetic loser"),
    ("Ｉｄｉｏｔ", "insult", "Ｉｄｉｏｔ"),
    ("卖家就是个傻逼", "insult", "傻逼"),
    ("这个傻\u200b逼卖家", "insult", "傻\u200b逼"),
    ("你们这些白痴", "insult", "白痴"),
    ("脑残客服", "insult", "脑残"),
    ("他妈的物流", "insult", "他妈的"),
    ("卖家是个王八蛋", "insult", "王八蛋"),
    ("什么垃圾卖家", "insult", "垃圾卖家"),
    # threats
    ("I will find you and your warehouse.", "threat", "I will find you"),
    ("You'll regret opening this dispute", "threat", "You'll regret"),
    ("you’ll regret this", "threat", "you’ll regret"),
    ("I know where you live", "threat", "I know where you live"),
    ("Watch  your back", "threat", "Watch  your back"),
    ("you will pay for this", "threat", "you will pay for this"),
    ("I'm coming for you", "threat", "I'm coming for you"),
    ("我要杀了你", "threat", "我要杀了你"),
    ("你给我等着", "threat", "你给我等着"),
    ("我知道你住哪", "threat", "我知道你住哪"),
    ("不会放过你的", "threat", "不会放过你"),
    ("我会让你倒闭", "threat", "让你倒闭"),
    # grudges (warnings)
    ("I hate this seller since my last order", "grudge", "I hate this seller"),
    ("This report is my revenge", "grudge", "revenge"),
    ("Payback time.", "grudge", "Payback"),
    ("I want to teach them a lesson", "grudge", "teach them a lesson"),
    ("worst seller ever", "grudge", "worst seller ever"),
    ("我一定要报复这个卖家", "grudge", "报复"),
    ("这口气我咽不下这口气", "grudge", "咽不下这口气"),
    ("他们活该", "grudge", "活该"),
    ("新仇旧恨一起算", "grudge", "新仇旧恨"),
    # defamation markers
    ("This seller is a scammer.", "defamation", "scammer"),
    ("SCAMMERS everywhere in this store", "defamation", "SCAMMERS"),
    ("They are fraudsters", "defamation", "fraudsters"),
    ("The owner is a criminal", "defamation", "criminal"),
    ("thieves!", "defamation", "thieves"),
    ("a bunch of liars", "defamation", "bunch of liars"),
    ("they are a $cammer gang", "defamation", "$cammer"),
    ("Total rip-off artist", "defamation", "rip-off artist"),
    ("卖家是骗子", "defamation", "骗子"),
    ("这是个诈骗犯", "defamation", "诈骗犯"),
    ("黑心商家", "defamation", "黑心商家"),
    ("典型的奸商", "defamation", "奸商"),
    ("卖家scammer", "defamation", "scammer"),
]


def test_word_list_files_hold_only_the_four_rules(word_lists: dict[str, dict[str, Any]]) -> None:
    for data in word_lists.values():
        assert set(data) == set(TERM_RULES)


@pytest.mark.parametrize("language", ["en", "zh_Hans"])
@pytest.mark.parametrize("rule", TERM_RULES)
def test_word_lists_are_moderate(
    language: str, rule: str, word_lists: dict[str, dict[str, Any]], lexicons: tuple[Lexicon, ...]
) -> None:
    assert 25 <= len(word_lists[language][rule]) <= 60
    lexicon = next(lex for lex in lexicons if lex.language == language)
    assert len(lexicon.terms[rule]) == len(word_lists[language][rule])  # no duplicates


@pytest.mark.parametrize("text", FACTUAL_EN + FACTUAL_ZH)
def test_factual_complaints_pass(text: str, lexicons: tuple[Lexicon, ...]) -> None:
    assert lint_description(text, lexicons) == ()


def test_a_description_full_of_numbers_passes(lexicons: tuple[Lexicon, ...]) -> None:
    assert lint_description("\n".join(NUMBERS), lexicons) == ()


@pytest.mark.parametrize("text", NUMBERS)
def test_numbers_are_not_phones(text: str, lexicons: tuple[Lexicon, ...]) -> None:
    assert lint_description(text, lexicons) == ()


@pytest.mark.parametrize(("text", "quote"), PHONES)
def test_phone_numbers(text: str, quote: str, lexicons: tuple[Lexicon, ...]) -> None:
    assert lint_description(text, lexicons) == (Finding("phone", quote, blocking=True),)


@pytest.mark.parametrize(("text", "quote"), EMAILS)
def test_email_addresses(text: str, quote: str, lexicons: tuple[Lexicon, ...]) -> None:
    assert lint_description(text, lexicons) == (Finding("email", quote, blocking=True),)


def test_a_phone_that_is_an_email_local_part_is_one_email(lexicons: tuple[Lexicon, ...]) -> None:
    assert lint_description("mail 13800138000@163.com", lexicons) == (
        Finding("email", "13800138000@163.com", blocking=True),
    )


@pytest.mark.parametrize(("text", "rule", "quote"), TERMS)
def test_terms(text: str, rule: str, quote: str, lexicons: tuple[Lexicon, ...]) -> None:
    findings = [f for f in lint_description(text, lexicons) if f.rule != "shouting"]

    assert findings == [Finding(rule, quote, blocking=rule != "grudge")]


@pytest.mark.parametrize(
    "text",
    [
        "The seller is reliable on other orders, but this one was wrong.",  # liar
        "The strap was looser than described.",  # loser
        "I sent the assessment from the repair shop.",  # ass
        "My address is in Scunthorpe, the parcel went to Essex.",
        "The package was classified as dangerous goods.",
        "The box said 'Pass' on the QC sticker.",
        "The cable has a brass connector and a shitake-mushroom print.",
        "The scam-proof lock arrived broken",  # compound the list does not hold
        "The manual mentions a 'cretinous' error code.",
        "Their 'crooked' frame complaint was about the picture frame, not me.",
        "The toy pig arrived without the batteries.",
    ],
)
def test_whole_words_only(text: str, lexicons: tuple[Lexicon, ...]) -> None:
    assert [f for f in lint_description(text, lexicons) if f.rule != "shouting"] == []


@pytest.mark.parametrize(
    ("text", "quote"),
    [
        (
            "THE SELLER NEVER SHIPPED MY ORDER AND NOW CLAIMS I RECEIVED IT. I want a refund.",
            "THE SELLER NEVER SHIPPED MY ORDER AND NOW CLAIMS I RECEIVED IT",
        ),
        (
            "ORDER 8161234567890123 NEVER ARRIVED AND THE SELLER LIES",
            "ORDER 8161234567890123 NEVER ARRIVED AND THE SELLER LIES",
        ),
        ("REFUND NOW. THIS IS WRONG. ANSWER ME.", "REFUND NOW. THIS IS WRONG. ANSWER ME."),
        ("Hello, refund my money now!!!", "refund my money now!!!"),
        ("I paid but got nothing!!!", "I paid but got nothing!!!"),
        ("Where is my parcel!!!!!!", "Where is my parcel!!!!!!"),
        ("退款！！！", "退款！！！"),
        ("卖家一直不发货，我等了三个月了，到现在还没有收到！！！", "到现在还没有收到！！！"),
        (
            "The seller ignored me for three weeks and then lied about it!!!",
            "and then lied about it!!!",
        ),
        ("!!!", "!!!"),
    ],
)
def test_shouting(text: str, quote: str, lexicons: tuple[Lexicon, ...]) -> None:
    findings = lint_description(text, lexicons)

    assert Finding("shouting", quote, blocking=False) in findings
    assert all(f.rule == "shouting" for f in findings)


@pytest.mark.parametrize(
    "text",
    [
        "I used DHL, USPS and EMS tracking: LP00123456789012, RU123456789CN.",
        "The seller wrote OK and then nothing. NOT OK.",
        "Tracking LP00123456789012 RU123456789CN YT2312345678901234 UB123456789CN all show it.",
        "It arrived broken!! I have photos!",
        "Why?! Nobody answers.",
        "The USB-C PD 100W GaN charger (model XYZ-65W) is not 100W.",
        "ＵＳＢ接口损坏，已附照片。",
    ],
)
def test_not_shouting(text: str, lexicons: tuple[Lexicon, ...]) -> None:
    assert lint_description(text, lexicons) == ()


def test_findings_are_ordered_and_unique(lexicons: tuple[Lexicon, ...]) -> None:
    text = (
        "This scammer sent nothing. Call him: +86 138 0013 8000 or mail boss@xinda.cn. "
        "The scammer also said I will find you. Scammer!!!"
    )

    findings = lint_description(text, lexicons)

    assert findings == (
        Finding("defamation", "scammer", blocking=True),
        Finding("phone", "+86 138 0013 8000", blocking=True),
        Finding("email", "boss@xinda.cn", blocking=True),
        Finding("threat", "I will find you", blocking=True),
        Finding("defamation", "Scammer", blocking=True),
        Finding("shouting", "Scammer!!!", blocking=False),
    )


def test_quotes_come_from_the_original_text(lexicons: tuple[Lexicon, ...]) -> None:
    text = "Ｓｃａｍｍｅｒ and SCA\u200bMMER and sca\u2060mmer"

    quotes = [f.quote for f in lint_description(text, lexicons)]

    assert quotes == ["Ｓｃａｍｍｅｒ", "SCA\u200bMMER", "sca\u2060mmer"]
    assert all(quote in text for quote in quotes)


def test_every_rule_at_once(lexicons: tuple[Lexicon, ...]) -> None:
    text = (
        "THIS IDIOT IS A SCAMMER AND I HATE THIS SELLER, I WILL FIND YOU!!! "
        "phone 13800138000 mail a.b@example.com"
    )

    rules = {f.rule for f in lint_description(text, lexicons)}

    assert rules == set(RULES)


@pytest.mark.parametrize(
    ("rules", "text", "expected"),
    [
        (
            ObjectivityRules(blocking=frozenset({"grudge"})),
            "revenge, scammer",
            (Finding("grudge", "revenge", True), Finding("defamation", "scammer", False)),
        ),
        (ObjectivityRules(max_exclamations=5), "Refund now!!!!!", ()),
        (
            ObjectivityRules(max_exclamations=0),
            "Refund now!",
            (Finding("shouting", "Refund now!", False),),
        ),
        (ObjectivityRules(caps_ratio=0.95), "PLEASE REFUND MY ORDER NOW, it never came", ()),
        (
            ObjectivityRules(min_letters_for_caps=5),
            "REFUND NOW",
            (Finding("shouting", "REFUND NOW", False),),
        ),
        (ObjectivityRules(), "REFUND NOW", ()),
    ],
)
def test_operator_rules(
    rules: ObjectivityRules,
    text: str,
    expected: tuple[Finding, ...],
    lexicons: tuple[Lexicon, ...],
) -> None:
    assert lint_description(text, lexicons, rules) == expected


def test_only_the_given_lexicons_apply(lexicons: tuple[Lexicon, ...]) -> None:
    english = tuple(lex for lex in lexicons if lex.language == "en")

    assert lint_description("骗子 scammer", english) == (
        Finding("defamation", "scammer", blocking=True),
    )
    assert lint_description("骗子 scammer", ()) == ()


@pytest.mark.parametrize(
    ("data", "named"),
    [
        ({"insults": ["idiot"]}, "'insults'"),
        ({"phone": ["13800138000"]}, "'phone'"),
        ({"insult": "idiot"}, "'insult'"),
        ({"threat": ["I will find you", 42]}, "'threat' entry 2"),
        ({"grudge": [""]}, "'grudge' entry 1"),
        ({"defamation": ["!!!"]}, "'defamation' entry 1"),
        ({"defamation": ["\u200b"]}, "'defamation' entry 1"),
    ],
)
def test_lexicon_validation_names_the_key(data: dict[str, object], named: str) -> None:
    with pytest.raises(ValueError, match=named):
        Lexicon.from_mapping("en", data)


def test_lexicon_normalizes_and_deduplicates() -> None:
    lexicon = Lexicon.from_mapping(
        "en",
        {
            "defamation": ["  Scammer ", "scammer", "ＳＣＡＭＭＥＲ", "Con   Artist"],
            "grudge": None,
        },
    )

    assert lexicon.terms == {
        "insult": (),
        "threat": (),
        "grudge": (),
        "defamation": ("scammer", "con artist"),
    }


def test_operator_phrases_with_symbols_are_literal() -> None:
    lexicon = Lexicon.from_mapping("en", {"insult": ["f*ck off", "(idiot)"]})

    assert lint_description("f*ck off and fuck off", (lexicon,)) == (
        Finding("insult", "f*ck off", blocking=True),
    )


@pytest.mark.parametrize(
    ("kwargs", "named"),
    [
        ({"blocking": frozenset({"insults"})}, "'insults'"),
        ({"caps_ratio": 0.0}, "caps_ratio"),
        ({"caps_ratio": 1.5}, "caps_ratio"),
        ({"min_letters_for_caps": 0}, "min_letters_for_caps"),
        ({"max_exclamations": -1}, "max_exclamations"),
    ],
)
def test_impossible_rules(kwargs: dict[str, Any], named: str) -> None:
    with pytest.raises(ValueError, match=named):
        ObjectivityRules(**kwargs)


def test_lexicon_terms_are_read_only(lexicons: tuple[Lexicon, ...]) -> None:
    with pytest.raises(TypeError):
        lexicons[0].terms["insult"] = ()
