"""One router per area of the API; :mod:`api.app` mounts them."""
