"""Prefect tasks: thin wrappers over ``heygem_core`` (see ``stages`` and ``publish``)."""
