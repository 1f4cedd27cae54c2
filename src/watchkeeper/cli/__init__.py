"""The `watchkeeper` command line: Typer commands that call services."""
