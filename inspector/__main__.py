from inspector.cli.main import main

main()
