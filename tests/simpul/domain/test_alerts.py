"""The alert record and its socket: exchange and the ledger raise alerts without importing
the orchestration layer, which plugs the real sender in."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest

from simpul.domain import alerts
from simpul.domain.alerts import Alert, delivery_alert


@pytest.fixture
def unplugged() -> Iterator[None]:
    saved = (alerts._plugged.send, alerts._plugged.due)
    alerts._plugged.send = alerts._plugged.due = None
    yield
    alerts._plugged.send, alerts._plugged.due = saved


def test_an_unplugged_socket_warns_and_never_raises(
    unplugged: None, caplog: pytest.LogCaptureFixture
) -> None:
    assert alerts.send(Alert("test", "uji", "test")) == {}
    assert "no alert sender is plugged in" in caplog.text
    assert alerts.due("k", timedelta(hours=1))


def test_the_plugged_sender_gets_every_alert(unplugged: None) -> None:
    sent: list[Alert] = []
    keys: list[str] = []
    alerts.plug(
        lambda a: sent.append(a) or {"log": "written"}, lambda k, e: keys.append(k) or False
    )
    alert = delivery_alert("held", "siak", "L1", "load", {"rows": 3}, ("ditahan", "held"))
    assert alerts.send(alert) == {"log": "written"} and sent == [alert]
    assert not alerts.due("held:siak", timedelta(hours=1)) and keys == ["held:siak"]
    assert alert.key == "held:siak:load" and alert.title.endswith("siak.load")


def test_importing_orchestration_alerts_plugs_its_sender() -> None:
    from simpul.orchestration.alerts import due, send_alert

    assert alerts._plugged.send is send_alert and alerts._plugged.due is due
