"""The HTTP API: create_app(), dependencies, one router per resource."""
