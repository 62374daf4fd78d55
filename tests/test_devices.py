"""The real sound-device path: a user-mode PulseAudio daemon with a null sink (no hardware).

sounddevice (PortAudio, ALSA backend) reaches it through the ALSA pulse plugin, so capture and
playback are paced in real time by the daemon's clock, as with a sound card.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time

import pytest

from streamcodec import save_model



@pytest.fixture(scope="module")
def pulse(tmp_path_factory):
    assert shutil.which("pulseaudio"), "these tests need pulseaudio, pulseaudio-utils and libasound2-plugins (see .ci/run)"
    runtime = tmp_path_factory.mktemp("pulse-runtime")
    os.chmod(runtime, 0o700)
    env = {**os.environ, "XDG_RUNTIME_DIR": str(runtime), "HOME": str(runtime)}
    subprocess.run(["pulseaudio", "--kill"], env=env, capture_output=True)
    started = subprocess.run(
        ["pulseaudio", "--daemonize=yes", "--exit-idle-time=-1", "-n", "--disallow-exit",
         "--load=module-native-protocol-unix", "--load=module-null-sink sink_name=streamcodec_null"],
        env=env, capture_output=True, text=True, timeout=30,
    )
    assert started.returncode == 0, started.stderr
    for _ in range(50):
        if subprocess.run(["pactl", "info"], env=env, capture_output=True).returncode == 0:
            break
        time.sleep(0.1)
    yield env
    subprocess.run(["pulseaudio", "--kill"], env=env, capture_output=True)


@pytest.fixture(scope="module")
def model_dir(small_model, tmp_path_factory):
    return str(save_model(small_model, tmp_path_factory.mktemp("model") / "model"))


def streamcodec(*args: str, env, timeout: float = 60) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "streamcodec", *args], env=env, capture_output=True, text=True, timeout=timeout)


def test_devices_lists_the_pulse_devices(pulse):
    result = streamcodec("devices", env=pulse)
    assert result.returncode == 0, result.stderr
    assert "pulse" in result.stdout


def test_loopback_runs_in_real_time_through_every_bandwidth(pulse, model_dir):
    result = streamcodec("loopback", "--model", model_dir, "--seconds", "4", "--cycle", "1", "-q", env=pulse)
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    # Every frame the microphone delivered was coded and played while the device ran in real
    # time (the device clock, not the codec, set the pace: at most 4 s of audio, most of it).
    assert report["frames_played"] == int(report["captured_seconds"] * 75 + 1e-6)
    assert 2.0 <= report["captured_seconds"] <= 4.2
    assert len(set(report["bandwidths_kbps"])) >= 3


def test_two_talk_peers_hear_each_other_through_a_server(pulse, model_dir):
    server = subprocess.Popen([sys.executable, "-m", "streamcodec", "serve", "--port", "0", "--model", model_dir, "-q"],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=pulse)
    try:
        url = server.stdout.readline().split(" on ")[1].split()[0]
        peers = [
            subprocess.Popen([sys.executable, "-m", "streamcodec", "talk", "--server", url, "--room", "duplex",
                              "--model", model_dir, "--seconds", "5", "-q"],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=pulse)
            for _ in range(2)
        ]
        reports = []
        for peer in peers:
            stdout, stderr = peer.communicate(timeout=90)
            assert peer.returncode == 0, stderr
            reports.append(json.loads(stdout))
        for report in reports:
            assert report["frames_sent"] > 150  # of ~375 in 5 s, whatever start-up took
            assert report["frames_played"] > 100  # the other peer's frames reached this speaker
    finally:
        server.kill()
        server.wait()


def test_a_missing_device_is_a_clear_error(pulse, model_dir):
    result = streamcodec("loopback", "--model", model_dir, "--seconds", "1", "--input-device", "no-such-microphone", env=pulse)
    assert result.returncode == 2
    assert "no input device no-such-microphone" in result.stderr and "Devices:" in result.stderr
