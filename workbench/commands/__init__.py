"""One module per subcommand; each defines register(subparsers). See workbench/cli.py."""
