"""GPU placement against a fake NVML: 4 GPUs, GPU 1 busy with another user's process."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from tests.test_trainer import tiny_cfg
from workbench import gpus, placement
from workbench.errors import WorkbenchError
from workbench.run_info import RunInfo

GiB = 2**30


class FakeNvml:
    """The few pynvml calls gpus.read_gpu makes, for `count` 80 GB GPUs."""

    def __init__(self, count: int = 4):
        self.count = count
        self.procs: dict[int, list] = {i: [] for i in range(count)}
        self.util: dict[int, int] = dict.fromkeys(range(count), 0)

    def nvmlDeviceGetCount(self):
        return self.count

    def nvmlDeviceGetHandleByIndex(self, i):
        return i

    def nvmlDeviceGetName(self, h):
        return "NVIDIA H100 80GB HBM3"

    def nvmlDeviceGetUUID(self, h):
        return f"GPU-{h}"

    def nvmlDeviceGetUtilizationRates(self, h):
        return SimpleNamespace(gpu=self.util[h], memory=0)

    def nvmlDeviceGetMemoryInfo(self, h):
        used = GiB // 2 + sum(p.usedGpuMemory for p in self.procs[h])
        return SimpleNamespace(used=used, total=80 * GiB, free=80 * GiB - used)

    def nvmlDeviceGetComputeRunningProcesses(self, h):
        return self.procs[h]

    def nvmlDeviceGetPowerUsage(self, h):
        return 100_000

    def nvmlDeviceGetTemperature(self, h, sensor):
        return 40

    def nvmlDeviceGetClockInfo(self, h, clock):
        return 1500


@pytest.fixture
def nvml(monkeypatch):
    fake = FakeNvml(4)
    # another user's job on GPU 1: a pid that is no workbench run, 30 GB, 95% busy
    fake.procs[1] = [SimpleNamespace(pid=999_999_1, usedGpuMemory=30 * GiB)]
    fake.util[1] = 95
    monkeypatch.setattr(gpus, "_nvml", fake)
    monkeypatch.setattr(gpus, "_tried", True)
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)
    return fake


def running(run_id: str, held: list[int]) -> RunInfo:
    return RunInfo(id=run_id, status="running", gpus=held)


def test_runs_go_to_free_gpus_never_the_busy_one_never_two_on_one(nvml, tmp_path):
    cfg = tiny_cfg(tmp_path, system__device="auto")
    infos: list[RunInfo] = []
    picked = []
    for n in range(3):
        p = placement.place_now(cfg, infos)
        picked += p.gpus
        assert p.env == {"CUDA_VISIBLE_DEVICES": str(p.gpus[0]), "CUDA_DEVICE_ORDER": "PCI_BUS_ID"}
        infos.append(running(f"r{n}", p.gpus))
    assert sorted(picked) == [0, 2, 3]  # GPU 1 is another user's; each run its own GPU
    assert placement.choose(cfg, infos, gpus.list_gpus()) is None  # the queue waits
    with pytest.raises(WorkbenchError, match="GPU 1 busy: other processes use 30.5 GiB"):
        placement.place_now(cfg, infos)


def test_multi_gpu_explicit_and_cpu_requests(nvml, tmp_path):
    two = tiny_cfg(tmp_path, system__device="auto", system__gpus=2, system__nproc=2)
    p = placement.place_now(two, [running("a", [0])])
    assert p.gpus == [2, 3] and p.env["CUDA_VISIBLE_DEVICES"] == "2,3"
    assert placement.choose(two, [running("a", [0]), running("b", [3])], gpus.list_gpus()) is None
    # asked for by name: honoured as given, even where another run is, and nothing hidden
    explicit = tiny_cfg(tmp_path, system__device="cuda:0")
    assert placement.place_now(explicit, [running("a", [0])]).gpus == [0]
    assert placement.place_now(explicit, []).env == {}
    # 0 GPUs: the GPUs are hidden from 'auto', so it trains on the CPU
    cpu = tiny_cfg(tmp_path, system__device="auto", system__gpus=0)
    assert placement.place_now(cpu, []) == placement.Placement([], {"CUDA_VISIBLE_DEVICES": ""})


def test_a_workbench_run_found_on_a_gpu_by_its_process_holds_it(nvml, tmp_path, monkeypatch):
    # a run started before placement existed: no `gpus` in run.json, but its process is on GPU 0
    nvml.procs[0] = [SimpleNamespace(pid=4242, usedGpuMemory=10 * GiB)]
    monkeypatch.setattr(gpus, "_lineage", lambda pid: ({pid}, None))
    cfg = tiny_cfg(tmp_path, system__device="auto")
    old = RunInfo(id="old", status="running", pid=4242)
    assert placement.place_now(cfg, [old]).gpus == [2]
    assert placement.survey(gpus.list_gpus(), [old])[0] == "held by old"


def test_our_cuda_visible_devices_limits_the_choice(nvml, tmp_path, monkeypatch):
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "1,3")
    cfg = tiny_cfg(tmp_path, system__device="auto")
    assert placement.place_now(cfg, []).gpus == [3]


def test_no_nvml_means_no_placement(monkeypatch, tmp_path):
    monkeypatch.setattr(gpus, "_nvml", None)
    monkeypatch.setattr(gpus, "_tried", True)
    cfg = tiny_cfg(tmp_path, system__device="auto")
    assert placement.place_now(cfg, [running("a", [])]) == placement.Placement([], {})


def test_gpus_and_nproc_fit_together(nvml, tmp_path):
    from tests.test_queue import write_tiny
    from workbench.config import load_config

    exp = write_tiny(tmp_path)
    auto = ["system.device='auto'"]
    with pytest.raises(WorkbenchError, match="'system.gpus' is 2 but the run trains on 1 process"):
        load_config(exp, [*auto, "system.gpus=2"])
    for sets in (["system.gpus=2", "system.nproc=2"], ["system.nproc=2"]):
        cfg = load_config(exp, [*auto, *sets])
        assert placement.gpus_wanted(cfg) == 2 and placement.place_now(cfg, []).gpus == [0, 2]
    listed = load_config(exp, ["system.device=[1, 3]"])  # named: honoured as given
    assert placement.place_now(listed, []).gpus == [1, 3]
