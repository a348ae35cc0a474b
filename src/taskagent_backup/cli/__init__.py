"""The ``taskagent-backup`` operator commands, one module per subcommand."""
