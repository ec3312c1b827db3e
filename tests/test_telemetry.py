"""Telemetry, GPU listing and MFU: CPU only, NVML faked."""

from __future__ import annotations

import sys
import threading
import time
import types
from types import SimpleNamespace

import pytest

from tests.conftest import wait_for
from workbench import gpus, mfu, telemetry
from workbench.mfu import flops_per_token, peak_tflops

# ---------------------------------------------------------------- MFU


def test_gpt2_124m_flops_per_token_by_hand():
    # GPT-2 124M, nanoGPT layout, no biases, lm_head tied to wte, vocab padded to 50304:
    #   per block: attn c_attn 768x2304 + c_proj 768x768 = 4*768^2 = 2,359,296
    #              mlp  c_fc 768x3072 + c_proj 3072x768  = 8*768^2 = 4,718,592
    #              two LayerNorm weights                  = 2*768   =     1,536
    #              = 7,079,424;  x 12 blocks              = 84,953,088
    #   final LayerNorm 768                                           =       768
    #   lm_head 50304 x 768 (= wte, counted once)                    = 38,633,472
    #   N = 84,953,088 + 768 + 38,633,472                            = 123,587,328
    # (position embeddings, 1024 x 768 = 786,432, are left out: a lookup, no matmul.)
    d, layers, vocab, block = 768, 12, 50304, 1024
    n = layers * (4 * d * d + 8 * d * d + 2 * d) + d + vocab * d
    assert n == 123_587_328
    # 6N = 741,523,968;  12*L*H*Q*T = 12*12*12*64*1024 = 113,246,208;  sum 854,770,176
    assert flops_per_token(n, 12, 12, 64, block) == 854_770_176
    # 100k tok/s on an A100 in bf16: 8.5477e13 / 312e12 = 0.27396...
    got = mfu.mfu(100_000, 854_770_176, peak_tflops("NVIDIA A100-SXM4-80GB", "bf16"))
    assert got == pytest.approx(854_770_176e5 / 312e12)
    assert 0.27 < got < 0.28


def test_run_peak_override():
    assert mfu.run_peak("cpu", "fp32", 0.0) is None
    assert mfu.run_peak("cpu", "fp32", 1.5) == 1.5
    assert mfu.run_peak("NVIDIA L4", "bf16", 0.0) == 121.0
    assert mfu.run_peak("NVIDIA L4", "bf16", 100.0) == 100.0


def test_mfu_without_peak_is_none():
    assert mfu.mfu(1e5, 8.5e8, None) is None
    assert mfu.mfu(1e5, 8.5e8, 0.0) is None


@pytest.mark.parametrize("name, expected", [
    ("NVIDIA H100 80GB HBM3", {"fp32": 66.9, "tf32": 494.7, "bf16": 989.4, "fp16": 989.4}),
    ("NVIDIA H100 PCIe", {"fp32": 51.2, "tf32": 378.0, "bf16": 756.0, "fp16": 756.0}),
    ("NVIDIA H100 NVL", {"fp32": 60.0, "tf32": 417.5, "bf16": 835.5, "fp16": 835.5}),
    ("NVIDIA H200", {"fp32": 66.9, "tf32": 494.7, "bf16": 989.4, "fp16": 989.4}),
    ("NVIDIA A100-SXM4-80GB", {"fp32": 19.5, "tf32": 156.0, "bf16": 312.0, "fp16": 312.0}),
    ("NVIDIA A100-SXM4-40GB", {"fp32": 19.5, "tf32": 156.0, "bf16": 312.0, "fp16": 312.0}),
    ("NVIDIA A100-PCIE-40GB", {"fp32": 19.5, "tf32": 156.0, "bf16": 312.0, "fp16": 312.0}),
    ("NVIDIA A100 80GB PCIe", {"fp32": 19.5, "tf32": 156.0, "bf16": 312.0, "fp16": 312.0}),
    ("NVIDIA L4", {"fp32": 30.3, "tf32": 60.0, "bf16": 121.0, "fp16": 121.0}),
    ("NVIDIA L40S", {"fp32": 91.6, "tf32": 183.0, "bf16": 362.05, "fp16": 362.05}),
    ("NVIDIA GeForce RTX 4090", {"fp32": 82.6, "tf32": 82.6, "bf16": 165.2, "fp16": 165.2}),
    ("NVIDIA GeForce RTX 3090", {"fp32": 35.6, "tf32": 35.6, "bf16": 71.0, "fp16": 71.0}),
    ("Tesla T4", {"fp32": 8.1, "tf32": 8.1, "bf16": None, "fp16": 65.0}),
    ("Tesla V100-SXM2-16GB", {"fp32": 15.7, "tf32": 15.7, "bf16": None, "fp16": 125.0}),
    ("Tesla V100-SXM2-32GB", {"fp32": 15.7, "tf32": 15.7, "bf16": None, "fp16": 125.0}),
    ("Tesla V100-PCIE-16GB", {"fp32": 14.0, "tf32": 14.0, "bf16": None, "fp16": 112.0}),
])
def test_peak_table(name, expected):
    for precision, value in expected.items():
        assert peak_tflops(name, precision) == value, (name, precision)


def test_peak_matching_is_robust_and_specific():
    assert peak_tflops("  nvidia   h100 pcie ", "bf16") == 756.0
    assert peak_tflops("NVIDIA A10G", "bf16") != peak_tflops("NVIDIA A100-SXM4-40GB", "bf16")
    assert peak_tflops("NVIDIA L40S", "bf16") != peak_tflops("NVIDIA L4", "bf16")
    assert peak_tflops("NVIDIA H200 NVL", "bf16") == peak_tflops("NVIDIA H100 NVL", "bf16")
    assert peak_tflops("NVIDIA A100-SXM4-80GB", "bfloat16") == 312.0


@pytest.mark.parametrize("name", ["cpu", "", "NVIDIA GeForce RTX 2080", "NVIDIA RTX A1000",
                                  "NVIDIA T400", "Apple M2", "NVIDIA GeForce RTX 4090 D",
                                  "NVIDIA H100", "AMD Instinct MI300X"])
def test_unknown_device_has_no_peak(name):
    for precision in ("fp32", "tf32", "bf16", "fp16"):
        assert peak_tflops(name, precision) is None
    assert peak_tflops("NVIDIA H100 80GB HBM3", "auto") is None  # the caller resolves auto


# ---------------------------------------------------------------- fake NVML


class FakeNVMLError(Exception):
    pass


def fake_pynvml(devices: list[dict], fail: set[str] = frozenset(), init_error: bool = False):
    """A stand-in for the pynvml module: `devices` give field values; names in `fail`
    raise NVMLError."""
    m = types.ModuleType("pynvml")
    m.NVMLError = FakeNVMLError
    m.NVML_TEMPERATURE_GPU = 0
    m.NVML_CLOCK_SM = 1
    m.init_calls = 0

    def api(name, fn):
        def call(*args):
            if name in fail:
                raise FakeNVMLError(f"{name}: Not Supported")
            return fn(*args)
        setattr(m, name, call)

    def init():
        m.init_calls += 1
        if init_error:
            raise FakeNVMLError("Driver Not Loaded")

    m.nvmlInit = init
    api("nvmlDeviceGetCount", lambda: len(devices))
    api("nvmlDeviceGetHandleByIndex", lambda i: devices[i])
    api("nvmlDeviceGetName", lambda h: h["name"].encode())  # older bindings return bytes
    api("nvmlDeviceGetUUID", lambda h: h["uuid"])
    api("nvmlDeviceGetUtilizationRates", lambda h: SimpleNamespace(gpu=h["util"], memory=10))
    api("nvmlDeviceGetMemoryInfo", lambda h: SimpleNamespace(used=h["used"], total=h["total"], free=0))
    api("nvmlDeviceGetPowerUsage", lambda h: h["power_mw"])
    api("nvmlDeviceGetEnforcedPowerLimit", lambda h: 700_000)
    api("nvmlDeviceGetTemperature", lambda h, sensor: h["temp"] if sensor == 0 else -1)
    api("nvmlDeviceGetClockInfo", lambda h, clock: h["sm"] if clock == 1 else -1)
    api("nvmlDeviceGetCurrentClocksEventReasons", lambda h: h["reasons"])
    api("nvmlDeviceGetComputeRunningProcesses",
        lambda h: [SimpleNamespace(pid=p, usedGpuMemory=u) for p, u in h["procs"]])
    return m


def device(i: int = 0, **kw) -> dict:
    d = {"name": "NVIDIA H100 80GB HBM3", "uuid": f"GPU-0000000{i}-aaaa-bbbb-cccc-dddddddddddd",
         "util": 87, "used": 61 * 2**30, "total": 80 * 2**30, "power_mw": 512_345, "temp": 71,
         "sm": 1980, "reasons": 0x4 | 0x20, "procs": [(4242, 60 * 2**30), (4343, None)]}
    d.update(kw)
    return d


@pytest.fixture
def nvml(monkeypatch):
    """Install a fake pynvml: nvml(devices, fail=...) -> the module. NVML state is reset."""
    def install(devices, **kw):
        m = fake_pynvml(devices, **kw)
        monkeypatch.setitem(sys.modules, "pynvml", m)
        gpus._reset_for_tests()
        return m
    yield install
    gpus._reset_for_tests()


@pytest.fixture
def no_nvml(monkeypatch):
    monkeypatch.setitem(sys.modules, "pynvml", None)  # `import pynvml` raises ImportError
    gpus._reset_for_tests()
    yield
    gpus._reset_for_tests()


def test_list_gpus_reads_every_field(nvml):
    m = nvml([device(0), device(1, name="NVIDIA A100-SXM4-40GB", util=3, procs=[])])
    out = gpus.list_gpus()
    assert [g.index for g in out] == [0, 1]
    g = out[0]
    assert g.name == "NVIDIA H100 80GB HBM3"
    assert g.uuid.startswith("GPU-00000000")
    assert g.util_pct == 87.0
    assert (g.mem_used_bytes, g.mem_total_bytes) == (61 * 2**30, 80 * 2**30)
    assert g.power_w == pytest.approx(512.345)
    assert g.power_limit_w == 700.0
    assert g.temp_c == 71.0 and g.sm_clock_mhz == 1980.0
    assert g.throttle_reasons == ["sw_power_cap", "sw_thermal"]
    assert g.processes == [(4242, 60 * 2**30), (4343, None)]
    assert out[1].name == "NVIDIA A100-SXM4-40GB" and out[1].processes == []
    gpus.list_gpus()
    assert m.init_calls == 1  # NVML is initialized once per process


def test_list_gpus_one_failing_field_keeps_the_others(nvml):
    nvml([device(0)], fail={"nvmlDeviceGetPowerUsage", "nvmlDeviceGetTemperature",
                            "nvmlDeviceGetCurrentClocksEventReasons",
                            "nvmlDeviceGetComputeRunningProcesses", "nvmlDeviceGetUUID"})
    (g,) = gpus.list_gpus()
    assert g.power_w is None and g.temp_c is None and g.uuid is None
    assert g.throttle_reasons is None and g.processes == []
    assert g.util_pct == 87.0 and g.mem_total_bytes == 80 * 2**30 and g.name.startswith("NVIDIA H100")


def test_throttle_falls_back_to_the_old_call(nvml):
    m = nvml([device(0)], fail={"nvmlDeviceGetCurrentClocksEventReasons"})
    m.nvmlDeviceGetCurrentClocksThrottleReasons = lambda h: 0x40
    (g,) = gpus.list_gpus()
    assert g.throttle_reasons == ["hw_thermal"]


def test_list_gpus_without_nvml(no_nvml):
    assert gpus.list_gpus() == []
    assert gpus.nvml_error()


def test_list_gpus_when_init_fails(nvml):
    nvml([device(0)], init_error=True)
    assert gpus.list_gpus() == []
    assert "Driver Not Loaded" in gpus.nvml_error()


def test_list_gpus_with_handle_failure(nvml):
    nvml([device(0)], fail={"nvmlDeviceGetHandleByIndex"})
    assert gpus.list_gpus() == []


def test_match_runs_by_pid_and_process_group():
    g = gpus.GpuStatus(index=0, processes=[(999_999_991, None)])
    runs = [SimpleNamespace(id="a", pid=999_999_991, pgid=None), SimpleNamespace(id="b", pid=1, pgid=None)]
    assert gpus.match_runs([g], runs) == {0: ["a"]}
    import os
    me = gpus.GpuStatus(index=1, processes=[(os.getpid(), None)])
    runs = [SimpleNamespace(id="parent", pid=os.getppid(), pgid=None)]
    assert gpus.match_runs([me], runs) == {1: ["parent"]}


# ---------------------------------------------------------------- sampler


def test_cuda_visible_devices_mapping():
    assert telemetry.nvml_index_for_cuda(1, "2,3") == 3
    assert telemetry.nvml_index_for_cuda(0, "") == 0
    assert telemetry.nvml_index_for_cuda(0, "GPU-abc,GPU-def") == 0
    assert telemetry.nvml_index_for_cuda(5, "0,1") == 5


def test_sampler_without_nvml_emits_cpu_series(no_nvml):
    got: list[dict] = []
    s = telemetry.TelemetrySampler(got.append, 0.02, cuda_index=None)
    with s:
        assert wait_for(lambda: len(got) >= 3)
    assert not s.running
    keys = set(got[-1])
    assert {"cpu/percent", "cpu/rss_bytes", "ram/used_bytes", "ram/total_bytes"} <= keys
    assert not any(k.startswith(("gpu/", "torch/")) for k in keys)
    assert got[-1]["cpu/rss_bytes"] > 0 and got[-1]["ram/total_bytes"] > 0


def test_sampler_with_cuda_index_but_no_gpu_still_emits_cpu(no_nvml):
    s = telemetry.TelemetrySampler(lambda v: None, 1.0, cuda_index=0)
    values = s.sample()
    assert "cpu/rss_bytes" in values and not any(k.startswith("gpu/") for k in values)


def test_sampler_reads_the_run_gpu(nvml, monkeypatch):
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "1")
    monkeypatch.setattr(telemetry, "_torch_uuid", lambda i: None)
    monkeypatch.setattr(telemetry, "_torch_memory", lambda i: {"torch/allocated": 1.0,
                                                                "torch/reserved": 2.0, "torch/peak": 3.0})
    nvml([device(0, util=5), device(1, util=99, reasons=0x8)])
    values = telemetry.TelemetrySampler(lambda v: None, 1.0, cuda_index=0).sample()
    assert values["gpu/util"] == 99.0  # cuda:0 is NVML 1 through CUDA_VISIBLE_DEVICES
    assert values["gpu/throttle"] == 8.0
    assert values["gpu/power_w"] == pytest.approx(512.345)
    assert values["gpu/mem_total"] == 80 * 2**30
    assert values["gpu/temp_c"] == 71.0 and values["gpu/sm_clock_mhz"] == 1980.0
    assert values["torch/peak"] == 3.0 and "cpu/percent" in values


def test_sampler_finds_gpu_by_torch_uuid(nvml, monkeypatch):
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)
    monkeypatch.setattr(telemetry, "_torch_uuid", lambda i: "00000001-aaaa-bbbb-cccc-dddddddddddd")
    nvml([device(0, util=5), device(1, util=42)])
    values = telemetry.TelemetrySampler(lambda v: None, 1.0, cuda_index=0).sample()
    assert values["gpu/util"] == 42.0


def test_sampler_omits_failing_gpu_fields(nvml, monkeypatch):
    monkeypatch.setattr(telemetry, "_torch_uuid", lambda i: None)
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)
    nvml([device(0)], fail={"nvmlDeviceGetPowerUsage", "nvmlDeviceGetMemoryInfo"})
    values = telemetry.TelemetrySampler(lambda v: None, 1.0, cuda_index=0).sample()
    assert "gpu/power_w" not in values and "gpu/mem_used" not in values
    assert values["gpu/util"] == 87.0


def test_sampler_stops_promptly_and_is_idempotent(no_nvml):
    s = telemetry.TelemetrySampler(lambda v: None, 30.0)  # a long interval must not delay stop
    s.start()
    assert s.running and s._thread.daemon
    t0 = time.monotonic()
    s.stop()
    assert time.monotonic() - t0 < 10 and not s.running  # a 30 s interval must not be waited out
    s.stop()
    telemetry.TelemetrySampler(lambda v: None, 1.0).stop()  # never started


def test_sampler_survives_emit_errors(no_nvml, caplog):
    calls = []

    def emit(values):
        calls.append(values)
        raise RuntimeError("store is gone")

    s = telemetry.TelemetrySampler(emit, 0.01).start()
    assert wait_for(lambda: len(calls) >= 3)  # keeps sampling after the first error
    assert s.running
    s.stop()
    assert not s.running
    assert sum("emit failed" in r.getMessage() for r in caplog.records) == 1  # logged once


def test_sampler_interval_zero_does_nothing(no_nvml):
    before = threading.active_count()
    s = telemetry.TelemetrySampler(lambda v: pytest.fail("emitted"), 0)
    s.start()
    assert s._thread is None and threading.active_count() == before
    s.stop()


def test_host_snapshot():
    snap = telemetry.host_snapshot()
    assert snap["ram/total_bytes"] > 0 and "cpu/percent" in snap


def test_no_torch_import_in_gpu_modules():
    import subprocess

    code = ("import sys, workbench.gpus, workbench.mfu, workbench.telemetry, workbench.commands.gpu; "
            "workbench.gpus.list_gpus(); print('torch' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.stdout.strip() == "False", out.stderr


# ---------------------------------------------------------------- workbench gpu


def test_gpu_command_without_gpu(no_nvml, capsys, tmp_path):
    from workbench.cli import main

    assert main(["--runs-dir", str(tmp_path), "gpu"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("no NVIDIA GPU found (NVML unavailable): ")


def test_gpu_command_json_without_gpu(no_nvml, capsys, tmp_path):
    import json

    from workbench.cli import main

    assert main(["gpu", "--json", "--runs-dir", str(tmp_path)]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["gpus"] == [] and data["error"]


def test_gpu_command_with_fake_gpu(nvml, capsys, tmp_path):
    import json

    from workbench.cli import main

    nvml([device(0)])
    assert main(["gpu", "--runs-dir", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "GPU 0  NVIDIA H100 80GB HBM3" in out and "util 87%" in out and "pid 4242" in out
    assert "sw_power_cap" in out
    assert main(["gpu", "--json", "--runs-dir", str(tmp_path)]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["gpus"][0]["processes"][0] == {"pid": 4242, "used_bytes": 60 * 2**30}
    assert data["gpus"][0]["runs"] == []
