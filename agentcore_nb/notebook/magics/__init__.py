"""Magic modules: each defines its magics with :func:`framework.magic`; all are auto-registered."""
