"""The service's upkeep of bounded records: a worker that fell behind the bounded catalogue change log
re-reads the whole catalogue; expired exactly-once records are pruned hourly by the reload thread."""

from __future__ import annotations

import time
from collections.abc import Callable

from shopsage.serving.service import Service


def test_a_worker_behind_the_log_rereads_the_whole_catalogue(make_service: Callable[..., Service]) -> None:
    svc = make_service(state_url="memory://?max_changes=2")
    rows = {r.ext_id: r for _, r in svc.store.items()}
    changed = sorted(rows)[:3]
    # another worker changed three items: the store has them, the log keeps only the last two ids
    svc.store.write_items([rows[x]._replace(title=f"renamed {x}") for x in changed])
    svc.state.publish_catalog(changed)
    assert svc.state.catalog_changes(svc._cat_seen)[1] is None, "control: this worker is behind the log"
    svc.sync()
    for x in changed:
        assert svc.get_item(x)["title"] == f"renamed {x}"
    assert svc.state.catalog_changes(svc._cat_seen) == (svc._cat_seen, [])


def test_the_service_prunes_hourly_off_the_request_path(make_service: Callable[..., Service]) -> None:
    from shopsage.data.schema import Event

    svc = make_service(request_retention_days=1.0)
    item = next(ext for ext in svc.store.item_ids())
    sent = [[Event(type="view", item=item, session=f"s{k}", timestamp=time.time())] for k in range(2)]
    for k, batch in enumerate(sent):
        svc.ingest(batch, idempotency_key=f"k{k}")
    with svc.store.transaction():
        svc.store._exec("UPDATE ingest_requests SET created_at = created_at - 2 * 86400 WHERE id = 1")  # type: ignore[attr-defined]
    assert svc.prune_when_due(now=1000.0) == {"requests": 1}
    assert svc.prune_when_due(now=1000.0 + 60) is None  # not due again within the hour
    assert svc.prune_when_due(now=1000.0 + 3600) == {"requests": 0}
    again = svc.ingest(sent[1], idempotency_key="k1")
    assert again["replayed"], "a recent record still answers its retry"
