from cloudplane.cli import main

main()
