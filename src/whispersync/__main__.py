from whispersync.cli import main

main()
