"""The governor's parts on their own: memory budget, per-scan budget, admission."""
from __future__ import annotations

import threading
import time

import pytest

from avgate.errors import ContentSize, DecompressLayer, EngineNotReady, OutOfResources, ScanTimeout, TooManyRequests
from avgate.governor import Governor, MemoryBudget, ScanBudget, ScanLimits


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_memory_budget_refuses_past_its_limit_and_recovers():
    memory = MemoryBudget(1000)
    memory.acquire(600, "spool")
    with pytest.raises(OutOfResources) as refused:
        memory.acquire(500, "decoder")
    assert refused.value.reason == "out-of-resources"
    assert "500 bytes for decoder refused" in refused.value.detail
    assert "600 of 1000" in refused.value.detail
    assert memory.used == 600  # a refused reservation takes nothing
    memory.release(600)
    memory.acquire(1000)
    assert (memory.used, memory.peak) == (1000, 1000)


def test_memory_budget_rejects_nonsense():
    with pytest.raises(ValueError):
        MemoryBudget(-1)
    with pytest.raises(ValueError):
        MemoryBudget(10).acquire(-5)
    unlimited = MemoryBudget(None)
    unlimited.acquire(1 << 40)
    assert unlimited.used == 1 << 40


def test_deadline_and_remaining_follow_the_clock():
    clock = FakeClock()
    budget = ScanBudget(ScanLimits(timeout=0.2), clock=clock)
    assert budget.remaining() == pytest.approx(0.2)
    clock.now += 0.19
    budget.check_deadline()
    clock.now += 0.02
    assert budget.remaining() == pytest.approx(-0.01)
    with pytest.raises(ScanTimeout) as late:
        budget.check_deadline("a.zip//b")
    assert (late.value.reason, late.value.path) == ("timeout", "a.zip//b")
    assert "0.2 s" in late.value.detail


def test_no_timeout_means_no_deadline():
    clock = FakeClock()
    budget = ScanBudget(ScanLimits(timeout=None), clock=clock)
    clock.now += 1e9
    budget.check_deadline()
    assert budget.remaining() is None


def test_count_scanned_checks_size_and_deadline():
    clock = FakeClock()
    budget = ScanBudget(ScanLimits(timeout=1.0, scan_size_limit=100), clock=clock)
    budget.count_scanned(100)
    with pytest.raises(ContentSize, match="scan-size-limit"):
        budget.count_scanned(1)
    budget = ScanBudget(ScanLimits(timeout=1.0, scan_size_limit=None), clock=clock)
    clock.now += 2
    with pytest.raises(ScanTimeout):
        budget.count_scanned(1)


def test_input_files_and_layers_limits():
    budget = ScanBudget(ScanLimits(content_size_limit=10, max_files=2, decompress_layer_limit=2))
    budget.count_input(10)
    with pytest.raises(ContentSize, match="content-size-limit"):
        budget.count_input(1, "in")
    budget.count_file()
    budget.count_file()
    with pytest.raises(ContentSize, match="max-files"):
        budget.count_file("x.zip//3")
    budget.check_layer(2)
    with pytest.raises(DecompressLayer) as deep:
        budget.check_layer(3, "a//b//c")
    assert deep.value.reason == "decompress-layer"


def test_reservations_are_released_even_when_the_block_fails():
    memory = MemoryBudget(100)
    budget = ScanBudget(memory=memory)
    with pytest.raises(RuntimeError):
        with budget.reserve(80, "buffer"):
            assert (memory.used, budget.reserved) == (80, 80)
            raise RuntimeError("walk failed")
    assert (memory.used, budget.reserved) == (0, 0)
    with budget.reserve(60):
        with pytest.raises(OutOfResources):
            with budget.reserve(60):
                pass
        assert memory.used == 60
    assert memory.used == 0


def test_stepwise_reservations_and_release_all():
    memory = MemoryBudget(100)
    budget = ScanBudget(memory=memory)
    for _ in range(3):
        budget.acquire(30, "spool")
    with pytest.raises(OutOfResources):
        budget.acquire(30, "spool")
    budget.release(500)  # never releases more than the scan holds
    assert (memory.used, budget.reserved) == (0, 0)
    budget.acquire(40)
    other = ScanBudget(memory=memory)
    other.acquire(50)
    budget.release_all()
    assert memory.used == 50  # the other scan keeps its share
    other.release_all()
    assert memory.used == 0


def test_admission_not_ready_names_the_detail_and_recovers():
    governor = Governor()
    governor.set_ready(False, "signature database is still loading")
    with pytest.raises(EngineNotReady, match="still loading"):
        with governor.admit("f"):
            pass
    assert governor.active == 0
    governor.set_ready(True)
    with governor.admit("f"):
        assert governor.snapshot()["active_scans"] == 1


def test_admission_never_queues_n_plus_one_threads():
    n = 3
    governor = Governor(max_concurrent=n)
    release = threading.Event()
    outcomes: list[str] = []
    lock = threading.Lock()

    def scan() -> None:
        try:
            with governor.admit():
                with lock:
                    outcomes.append("admitted")
                release.wait(timeout=10)
        except TooManyRequests as exc:
            with lock:
                outcomes.append(exc.reason)

    threads = [threading.Thread(target=scan) for _ in range(n + 1)]
    for t in threads:
        t.start()
    # every thread reports while the admitted ones still hold their slots:
    # the refused one did not wait for a slot to free up
    deadline = time.monotonic() + 5
    while len(outcomes) < n + 1 and time.monotonic() < deadline:
        time.sleep(0.005)
    settled = sorted(outcomes)
    release.set()
    for t in threads:
        t.join(timeout=5)
    assert settled == ["admitted"] * n + ["too-many-requests"]
    assert governor.active == 0
    with governor.admit():
        assert governor.active == 1


def test_max_concurrent_must_be_positive():
    with pytest.raises(ValueError):
        Governor(max_concurrent=0)


def test_snapshot_reports_memory_and_slots():
    governor = Governor(max_concurrent=2, memory_budget=1000)
    governor.memory.acquire(300)
    assert governor.snapshot() == {
        "ready": True,
        "active_scans": 0,
        "max_concurrent": 2,
        "memory_used": 300,
        "memory_budget": 1000,
    }
