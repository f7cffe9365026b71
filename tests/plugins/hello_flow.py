"""A flow added as any new flow is: this one file and one line in ``flows.registry.FLOWS`` (here
the tests add that line). It greets, and says which artifact store it would write to."""

from __future__ import annotations

from prefect import flow


@flow(name="hello")
def hello(who: str = "world", times: int = 1) -> dict:
    from tasks.runtime import settings_for, store_for

    store = store_for(settings_for(None))
    return {"greeting": " ".join([f"hello {who}"] * times), "store": store.describe()}
