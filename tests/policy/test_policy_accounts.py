"""parse_account: each spelling of a store has one key; items, other sites, junk are told apart."""

from __future__ import annotations

from typing import Any

import pydantic
import pytest

from disputebot.policy.accounts import (
    Account,
    AccountProblem,
    PlatformProfile,
    account_from_json,
    account_to_json,
    load_profile,
    parse_account,
)

STORE_LINKS = [
    ("https://www.aliexpress.com/store/1102345678", "1102345678"),
    ("http://www.aliexpress.com/store/1102345678", "1102345678"),
    ("https://aliexpress.com/store/1102345678/", "1102345678"),
    ("www.aliexpress.com/store/1102345678", "1102345678"),
    ("aliexpress.com/store/1102345678", "1102345678"),
    ("WWW.ALIEXPRESS.COM/store/1102345678", "1102345678"),
    ("HTTPS://WWW.AliExpress.Com/Store/1102345678", "1102345678"),
    ("https://www.aliexpress.com/store/1102345678.", "1102345678"),
    ("https://www.aliexpress.com/store/1102345678!", "1102345678"),
    ("(https://www.aliexpress.com/store/1102345678)", "1102345678"),
    ("<https://www.aliexpress.com/store/1102345678>", "1102345678"),
    ('"https://www.aliexpress.com/store/1102345678"', "1102345678"),
    ("[my store link](https://www.aliexpress.com/store/1102345678)", "1102345678"),
    ("https://www.aliexpress.com/store/1102345678?spm=a2g0o.home.0.0;", "1102345678"),
    ("https://de.aliexpress.com/store/1102345678/pages/all-items.html", "1102345678"),
    (
        "https://www.aliexpress.com/store/1102345678/pages/all-items.html"
        "?spm=a2g0o.store_pc_home.pcShopHead_6001952523151.1&sortType=bestmatch_sort",
        "1102345678",
    ),
    ("https://fr.aliexpress.com/store/1102345678/search?SearchText=coque+iphone", "1102345678"),
    ("https://es.aliexpress.com/store/1102345678?spm=a2g0o.detail.0.0#top", "1102345678"),
    ("https://pt.aliexpress.com/store/912663639", "912663639"),
    ("https://ru.aliexpress.com/store/4567890", "4567890"),
    ("https://ja.aliexpress.com/store/1102345678", "1102345678"),
    ("https://ko.aliexpress.com/store/1102345678", "1102345678"),
    ("https://it.aliexpress.com/store/1102345678", "1102345678"),
    ("https://nl.aliexpress.com/store/1102345678", "1102345678"),
    ("https://ar.aliexpress.com/store/1102345678", "1102345678"),
    ("https://he.aliexpress.com/store/1102345678", "1102345678"),
    ("https://th.aliexpress.com/store/1102345678", "1102345678"),
    ("https://tr.aliexpress.com/store/1102345678", "1102345678"),
    ("https://vi.aliexpress.com/store/1102345678", "1102345678"),
    ("https://pl.aliexpress.com/store/1102345678", "1102345678"),
    ("https://m.aliexpress.com/store/1102345678", "1102345678"),
    ("https://www.aliexpress.us/store/1102345678", "1102345678"),
    ("https://aliexpress.ru/store/1102345678", "1102345678"),
    ("https://m.aliexpress.ru/store/1102345678/pages/all-items.html", "1102345678"),
    ("http://www.aliexpress.com/store/all-wholesale-products/1051119.html", "1051119"),
    (
        "https://cyclingjerseystore.aliexpress.com/store/all-wholesale-products/1079069.html"
        "?spm=2114.12010606.0.0",
        "1079069",
    ),
    ("https://www.aliexpress.com/store/feedback-score/1195010.html", "1195010"),
    ("https://ko.aliexpress.com/store/sale-items/1102345678.html", "1102345678"),
    ("https://www.aliexpress.com/store/top-rated-products/1102345678.html", "1102345678"),
    (
        "https://miyoo.nl.aliexpress.com/store/group/Handheld-Game-Console/"
        "912663639_10000003620340.html?spm=a2g0o.store_pc_home",
        "912663639",
    ),
    ("https://topcnc.aliexpress.com/store/group/Stepper-Motor/1932111_504161502.html", "1932111"),
    (
        "https://m.aliexpress.com/store/v3/home.html?shopId=1102345678&sellerId=2201234567"
        "&pagePath=allProduct.htm",
        "1102345678",
    ),
    ("https://www.aliexpress.com/store/home.html?storeId=1103573332", "1103573332"),
    ("the store is https://www.aliexpress.com/store/1102345678 thanks", "1102345678"),
    ("Here: www.aliexpress.com/store/1102345678, please check it.", "1102345678"),
    ("店铺链接：https://www.aliexpress.com/store/1102345678 谢谢", "1102345678"),
    ("链接https://www.aliexpress.com/store/1102345678谢谢", "1102345678"),
    ("链接aliexpress.com/store/1102345678谢谢", "1102345678"),
    ("https://www.aliexpress.com/store/110\u200b2345678", "1102345678"),
    ("\ufeff\u200ehttps://www.aliexpress.com/store/1102345678\u200f", "1102345678"),
    ("  https://www.aliexpress.com/store/1102345678  \n", "1102345678"),
    ("https://www.aliexpress.com.:443/store/1102345678", "1102345678"),
]


@pytest.mark.parametrize(("text", "store_id"), STORE_LINKS)
def test_store_link_gives_the_store(text: str, store_id: str, profile: PlatformProfile) -> None:
    account = parse_account(text, profile)

    assert isinstance(account, Account)
    assert (
        account.key,
        account.kind,
        account.display,
        account.store_id,
        account.item_id,
        account.confidence,
    ) == (f"aliexpress:store:{store_id}", "store", store_id, store_id, None, "high")


@pytest.mark.parametrize(
    ("text", "source"),
    [
        (
            "  https://www.aliexpress.com/store/1102345678  \n",
            "https://www.aliexpress.com/store/1102345678",
        ),
        (
            "https://www.aliexpress.com/store/110\u200b2345678",
            "https://www.aliexpress.com/store/1102345678",
        ),
        ("\u202eShop\u202c 1102345678 ", "Shop 1102345678"),
        (
            "the store is\u200b aliexpress.com/store/316073 thanks ",
            "the store is aliexpress.com/store/316073 thanks",
        ),
    ],
)
def test_source_is_the_text_without_invisibles_trimmed(
    text: str, source: str, profile: PlatformProfile
) -> None:
    account = parse_account(text, profile)

    assert isinstance(account, Account)
    assert account.source == source


def test_every_spelling_of_one_store_has_one_key(profile: PlatformProfile) -> None:
    spellings = [
        "1102345678",
        "store id: 1102345678",
        "店铺ID：1102345678",
        "https://www.aliexpress.com/store/1102345678",
        "aliexpress.ru/store/1102345678",
        "https://m.aliexpress.com/store/v3/home.html?shopId=1102345678",
        "https://www.aliexpress.com/store/all-wholesale-products/1102345678.html",
        "https://www.aliexpress.com/store/product/Phone-Case/1102345678_1005006123456789.html",
        "see https://he.aliexpress.com/store/1102345678/pages/all-items.html.",
    ]

    keys = {
        account.key
        for account in (parse_account(text, profile) for text in spellings)
        if isinstance(account, Account)
    }

    assert keys == {"aliexpress:store:1102345678"}


@pytest.mark.parametrize(
    ("text", "item_id"),
    [
        ("https://www.aliexpress.com/item/1005006123456789.html", "1005006123456789"),
        (
            "https://www.aliexpress.com/item/1005006123456789.html?spm=a2g0o.productlist.main.1"
            "&algo_pvid=6a1b2c3d&pdp_npi=4%40dis%21EUR",
            "1005006123456789",
        ),
        ("https://m.aliexpress.com/i/1005006123456789.html", "1005006123456789"),
        ("https://de.aliexpress.com/item/1005005987654321.html#nav-review", "1005005987654321"),
        ("aliexpress.com/item/1005006123456789.html", "1005006123456789"),
        ("https://www.aliexpress.us/item/3256806123456789.html", "3256806123456789"),
        ("https://aliexpress.ru/item/1005006123456789.html?sku_id=12000036", "1005006123456789"),
        (
            "https://www.aliexpress.com/item/Wireless-Earbuds-Bluetooth-5-3/32845522857.html",
            "32845522857",
        ),
        (
            "I bought https://www.aliexpress.com/item/1005006123456789.html last week",
            "1005006123456789",
        ),
        ("1005006123456789", "1005006123456789"),
        ("1005001234567", "1005001234567"),
        ("商品ID：1005006123456789", "1005006123456789"),
        ("item 32845522857", "32845522857"),
        ("Product ID: 1005006123456789", "1005006123456789"),
    ],
)
def test_item_link_asks_for_the_store(text: str, item_id: str, profile: PlatformProfile) -> None:
    assert parse_account(text, profile) == AccountProblem("item_link", item_id=item_id)


@pytest.mark.parametrize(
    "text",
    [
        "https://www.amazon.com/dp/B0C1234567",
        "https://www.ebay.com/str/techdealsoutlet",
        "https://temu.com/store/1102345678",
        "https://fakealiexpress.com/store/1102345678",
        "https://aliexpress.com.evil.example/store/1102345678",
        "https://aliexpress-seller.top/store/1102345678",
        "www.shein.com/store/home",
        "http://bit.ly/3xYzAbC",
        "https://shopee.com.my/xiaomi.os",
    ],
)
def test_other_sites_are_foreign(text: str, profile: PlatformProfile) -> None:
    assert parse_account(text, profile) == AccountProblem("foreign_link")


@pytest.mark.parametrize(
    "text",
    [
        "https://a.aliexpress.com/_mKl3xYz",
        "https://s.click.aliexpress.com/e/_DdE4fGh",
        "http://click.aliexpress.com/e/_AbCdEf",
        "https://ali.ski/AbC12",
        "https://www.aliexpress.com/",
        "aliexpress.com",
        "https://www.aliexpress.com/w/wholesale-phone-case.html?SearchText=phone+case",
        "https://www.aliexpress.com/p/order/detail.html?orderId=8161234567890123",
        "https://m.aliexpress.com/store/storeHome.htm?sellerAdminSeq=121439130",
        "https://www.aliexpress.com/store/Xiaomi-Store",
        "https://login.aliexpress.com/?return_url=https%3A%2F%2Fwww.aliexpress.com",
        "https://sale.aliexpress.com/__pc/sale.htm",
    ],
)
def test_platform_links_without_a_store_are_unrecognized(
    text: str, profile: PlatformProfile
) -> None:
    assert parse_account(text, profile) == AccountProblem("unrecognized_link")


@pytest.mark.parametrize(
    ("text", "store_id"),
    [
        ("1102345678", "1102345678"),
        ("316073", "316073"),
        ("store 1102345678", "1102345678"),
        ("Store ID: 1102345678", "1102345678"),
        ("store id 1102345678", "1102345678"),
        ("shop no. 912663639", "912663639"),
        ("Seller #1102345678", "1102345678"),
        ("店铺ID：1102345678", "1102345678"),
        ("店铺号 912663639", "912663639"),
        ("１１０２３４５６７８", "1102345678"),
        ("  1102345678.", "1102345678"),
    ],
)
def test_bare_store_id(text: str, store_id: str, profile: PlatformProfile) -> None:
    account = parse_account(text, profile)

    assert isinstance(account, Account)
    assert (account.key, account.kind, account.store_id, account.confidence) == (
        f"aliexpress:store:{store_id}",
        "store",
        store_id,
        "high",
    )


@pytest.mark.parametrize(
    ("text", "display", "key"),
    [
        (
            "Shenzhen Xinda Electronics Store",
            "Shenzhen Xinda Electronics Store",
            "shenzhen xinda electronics store",
        ),
        ("  xiaomi   official\tstore ", "xiaomi official store", "xiaomi official store"),
        ("BASEUS Official Store", "BASEUS Official Store", "baseus official store"),
        ("Baseus\u200b Official\u2060 Store", "Baseus Official Store", "baseus official store"),
        ("ＵＧＲＥＥＮ Official Store", "UGREEN Official Store", "ugreen official store"),
        ("小米官方旗舰店", "小米官方旗舰店", "小米官方旗舰店"),
        ("深圳市鑫达电子 Store", "深圳市鑫达电子 Store", "深圳市鑫达电子 store"),
        ('"TechLife Direct Store"', "TechLife Direct Store", "techlife direct store"),
        ("“Home Deco World”", "Home Deco World", "home deco world"),
        ("«Moda Straße»", "Moda Straße", "moda strasse"),
        ("O'Neill Outlet 3C", "O'Neill Outlet 3C", "o'neill outlet 3c"),
        ("Xiaomi.Official Store", "Xiaomi.Official Store", "xiaomi.official store"),
        ("88 Store", "88 Store", "88 store"),
        ("Ab", "Ab", "ab"),
        ("Ёлка Shop", "Ёлка Shop", "ёлка shop"),
        ("Tienda Oficial Niña", "Tienda Oficial Niña", "tienda oficial niña"),
    ],
)
def test_seller_name(text: str, display: str, key: str, profile: PlatformProfile) -> None:
    account = parse_account(text, profile)

    assert isinstance(account, Account)
    assert (account.kind, account.display, account.key, account.confidence, account.store_id) == (
        "seller_name",
        display,
        f"aliexpress:seller:{key}",
        "low",
        None,
    )


@pytest.mark.parametrize(
    "spellings",
    [
        [
            "Shenzhen Xinda Store",
            "shenzhen xinda store",
            "SHENZHEN  XINDA STORE",
            "Shenzhen\u200b Xinda Store",
        ],
        ["小米官方旗舰店", " 小米官方旗舰店 ", "小米\u200b官方旗舰店", "“小米官方旗舰店”"],
        ["Moda Straße", "MODA STRASSE", "moda strasse"],
    ],
)
def test_seller_name_spellings_share_a_key(spellings: list[str], profile: PlatformProfile) -> None:
    keys = set()
    for text in spellings:
        account = parse_account(text, profile)
        assert isinstance(account, Account)
        keys.add(account.key)

    assert len(keys) == 1


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("", "empty"),
        ("   ", "empty"),
        ("\n\t ", "empty"),
        ("\u200b\u200b\ufeff", "empty"),
        ("\u202a\u202c", "empty"),
        ("A", "not_a_name"),
        ("!!!", "not_a_name"),
        ("12", "not_a_name"),
        ("12345", "not_a_name"),
        ("store id: 12345", "not_a_name"),
        ("8161234567890123", "not_a_name"),
        ("order 8161234567890123", "not_a_name"),
        ("Order No.: 3034567890123456", "not_a_name"),
        ("订单号：8161234567890123", "not_a_name"),
        ("LP00123456789012", "not_a_name"),
        ("tracking RU123456789CN", "not_a_name"),
        ("YT2312345678901234", "not_a_name"),
        ("物流单号 LP00123456789012", "not_a_name"),
        ("🙂🙂🙂", "not_a_name"),
        ("— —", "not_a_name"),
        ("x" * 81, "not_a_name"),
        ("Shop " * 41, "too_long"),
        ("a" * 201, "too_long"),
        ("天" * 201, "too_long"),
        ("https://www.aliexpress.com/store/1102345678?" + "x" * 2000, "too_long"),
        ("the store is aliexpress.com/store/1102345678 " + "because " * 30, "too_long"),
    ],
)
def test_problems(text: str, code: str, profile: PlatformProfile) -> None:
    assert parse_account(text, profile) == AccountProblem(code)


def test_a_long_store_link_is_not_too_long(profile: PlatformProfile) -> None:
    link = "https://www.aliexpress.com/store/1102345678/pages/all-items.html?" + "&".join(
        f"spm{n}=a2g0o.store_pc_allItems_or_groupList.new_all_items_2007{n}" for n in range(8)
    )
    assert len(link) > 200

    account = parse_account(link, profile)

    assert isinstance(account, Account)
    assert account.store_id == "1102345678"


@pytest.mark.parametrize(
    ("text", "given", "expected"),
    [
        ("https://www.aliexpress.com/store/1102345678", "1005006123456789", "1005006123456789"),
        ("1102345678", "1005006123456789", "1005006123456789"),
        ("Shenzhen Xinda Store", "1005006123456789", "1005006123456789"),
        ("https://www.aliexpress.com/store/1102345678", None, None),
        (
            "https://www.aliexpress.com/store/product/Phone-Case/600281_32838449413.html",
            None,
            "32838449413",
        ),
        (
            "https://www.aliexpress.com/store/product/Phone-Case/600281_32838449413.html",
            "1005006123456789",
            "32838449413",
        ),
        (
            "item https://www.aliexpress.com/item/1005006111111111.html "
            "store https://www.aliexpress.com/store/1102345678",
            None,
            "1005006111111111",
        ),
        (
            "https://www.aliexpress.com/store/1102345678 "
            "https://www.aliexpress.com/item/1005006111111111.html",
            "1005006123456789",
            "1005006111111111",
        ),
    ],
)
def test_item_id_is_carried_into_the_account(
    text: str, given: str | None, expected: str | None, profile: PlatformProfile
) -> None:
    account = parse_account(text, profile, item_id=given)

    assert isinstance(account, Account)
    assert account.item_id == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "https://www.amazon.com/dp/B0C1234567 https://www.aliexpress.com/store/1102345678",
            "aliexpress:store:1102345678",
        ),
        (
            "https://a.aliexpress.com/_mKl3xYz or aliexpress.com/store/4567890",
            "aliexpress:store:4567890",
        ),
        (
            "https://www.aliexpress.com/item/1005006123456789.html https://www.ebay.com/itm/1",
            AccountProblem("item_link", item_id="1005006123456789"),
        ),
        (
            "https://www.ebay.com/itm/1 https://a.aliexpress.com/_mKl3xYz",
            AccountProblem("unrecognized_link"),
        ),
    ],
)
def test_the_most_useful_link_wins(
    text: str, expected: str | AccountProblem, profile: PlatformProfile
) -> None:
    result = parse_account(text, profile)

    assert (result.key if isinstance(result, Account) else result) == expected


@pytest.mark.parametrize(
    "account",
    [
        Account(
            key="aliexpress:store:1102345678",
            kind="store",
            display="1102345678",
            store_id="1102345678",
            item_id="1005006123456789",
            confidence="high",
            source="https://www.aliexpress.com/store/1102345678",
        ),
        Account(
            key="aliexpress:seller:小米官方旗舰店",
            kind="seller_name",
            display="小米官方旗舰店",
            store_id=None,
            item_id=None,
            confidence="low",
            source="小米官方旗舰店",
        ),
    ],
)
def test_json_round_trip(account: Account) -> None:
    data = account_to_json(account)

    assert set(data) == {"key", "kind", "display", "store_id", "item_id", "confidence", "source"}
    assert account_from_json(data) == account


@pytest.mark.parametrize(
    "text",
    [
        "https://www.aliexpress.com/store/1102345678",
        "Shenzhen Xinda Store",
        "店铺ID：912663639",
    ],
)
def test_parsed_accounts_round_trip(text: str, profile: PlatformProfile) -> None:
    account = parse_account(text, profile, item_id="1005006123456789")

    assert isinstance(account, Account)
    assert account_from_json(account_to_json(account)) == account


GOOD_JSON: dict[str, object] = {
    "key": "aliexpress:store:1102345678",
    "kind": "store",
    "display": "1102345678",
    "store_id": "1102345678",
    "item_id": None,
    "confidence": "high",
    "source": "1102345678",
}


@pytest.mark.parametrize(
    ("change", "named"),
    [
        ({"kind": "shop"}, "'kind'"),
        ({"confidence": "medium"}, "'confidence'"),
        ({"key": 1102345678}, "'key'"),
        ({"store_id": 1102345678}, "'store_id'"),
        ({"display": None}, "'display'"),
        ({"extra": "x"}, "'extra'"),
        ({"source": ["a"]}, "'source'"),
    ],
)
def test_account_from_bad_json(change: dict[str, object], named: str) -> None:
    with pytest.raises(ValueError, match=named):
        account_from_json({**GOOD_JSON, **change})


@pytest.mark.parametrize("missing", ["key", "kind", "display", "confidence", "source"])
def test_account_from_json_missing_key(missing: str) -> None:
    data = {k: v for k, v in GOOD_JSON.items() if k != missing}

    with pytest.raises(ValueError, match=repr(missing)):
        account_from_json(data)


@pytest.mark.parametrize(
    ("change", "named"),
    [
        ({"domians": ["aliexpress.com"]}, "domians"),
        ({"store_paths": ["/store/(\\d+"]}, "store_paths"),
        ({"store_paths": ["/store/(\\d+)"]}, "store_paths"),
        ({"item_paths": ["/item/(?P<id>\\d+)\\.html"]}, "item_paths"),
        ({"id_text": "(\\d+)"}, "id_text"),
        ({"bare_store_id": "[1-9"}, "bare_store_id"),
        ({"store_paths": []}, "store_paths"),
        ({"name": "Ali Express"}, "name"),
        ({"name_min_chars": 100}, "name_min_chars"),
        ({"max_input_chars": 0}, "max_input_chars"),
    ],
)
def test_profile_validation_names_the_key(
    change: dict[str, Any], named: str, profile_data: dict[str, Any]
) -> None:
    with pytest.raises(pydantic.ValidationError, match=named):
        load_profile({**profile_data, **change})


def test_profile_is_frozen(profile: PlatformProfile) -> None:
    with pytest.raises(pydantic.ValidationError):
        profile.name = "temu"


def test_profile_patterns_come_from_the_data(profile_data: dict[str, Any]) -> None:
    # A second platform is only a YAML file: its own name and hosts, no code change.
    other = load_profile(
        {**profile_data, "name": "joom", "domains": ["joom.com"], "short_link_hosts": []}
    )

    assert parse_account("https://www.joom.com/store/1102345678", other) == Account(
        key="joom:store:1102345678",
        kind="store",
        display="1102345678",
        store_id="1102345678",
        item_id=None,
        confidence="high",
        source="https://www.joom.com/store/1102345678",
    )
    assert parse_account("https://www.aliexpress.com/store/1102345678", other) == AccountProblem(
        "foreign_link"
    )
