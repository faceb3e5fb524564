from disputebot.cli import main

main()
