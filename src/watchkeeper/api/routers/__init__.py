"""One router per resource; routers parse, check permission, call a service, shape the answer."""
