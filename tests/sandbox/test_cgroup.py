"""A cgroup per worker: memory, tasks and a CPU quota, on v1 (a folder per controller) and v2 (one
folder), written the way the kernel reads them. The kernel's files are faked in a temporary folder."""

from pathlib import Path

from grader import cgroup


def fake_v1(root: Path, controllers=("memory", "pids", "cpu")) -> None:
    for c in controllers:
        (root / c).mkdir(parents=True)
        (root / c / "cgroup.procs").write_text("")


def fake_v2(root: Path) -> None:
    root.mkdir(parents=True, exist_ok=True)
    (root / "cgroup.controllers").write_text("cpu memory pids\n")
    (root / "cgroup.subtree_control").write_text("cpu memory pids\n")


def test_v1_gets_memory_tasks_and_a_cpu_quota(tmp_path, monkeypatch):
    fake_v1(tmp_path)
    monkeypatch.setattr(cgroup, "ROOT", tmp_path)
    group = cgroup.create(256, 100, cpus=1.5)
    assert set(group.folders) == {"memory", "pids", "cpu"}
    assert (group.folders["memory"] / "memory.limit_in_bytes").read_text() == str(256 << 20)
    assert (group.folders["pids"] / "pids.max").read_text() == "100"
    assert (group.folders["cpu"] / "cpu.cfs_quota_us").read_text() == "150000"
    assert (group.folders["cpu"] / "cpu.cfs_period_us").read_text() == "100000"
    assert len(group.procs_files) == 3  # the worker joins every controller's group


def test_no_quota_asked_no_cpu_group(tmp_path, monkeypatch):
    fake_v1(tmp_path)
    monkeypatch.setattr(cgroup, "ROOT", tmp_path)
    group = cgroup.create(256, 100)
    assert "cpu" not in group.folders and not (tmp_path / "cpu" / "grader").exists()


def test_v2_writes_cpu_max_in_the_one_folder(tmp_path, monkeypatch):
    fake_v2(tmp_path)
    monkeypatch.setattr(cgroup, "ROOT", tmp_path)
    (tmp_path / "grader").mkdir()
    real_mkdir = Path.mkdir

    def mkdir_with_files(self, *args, **kwargs):  # the kernel makes the interface files of a new group
        real_mkdir(self, *args, **kwargs)
        if self.parent.name == "grader":
            for name in ("memory.max", "pids.max", "cpu.max", "cgroup.procs"):
                (self / name).write_text("")

    monkeypatch.setattr(Path, "mkdir", mkdir_with_files)
    group = cgroup.create(128, 50, cpus=0.5)
    folder = group.folders["memory"]
    assert group.folders["cpu"] == folder and group.procs_files == [str(folder / "cgroup.procs")]
    assert (folder / "cpu.max").read_text() == "50000 100000"
    assert (folder / "memory.max").read_text() == str(128 << 20) and (folder / "pids.max").read_text() == "50"
    assert "+cpu" in (tmp_path / "grader" / "cgroup.subtree_control").read_text()


def test_a_machine_without_the_cpu_controller_still_limits_memory(tmp_path, monkeypatch):
    fake_v1(tmp_path, controllers=("memory", "pids"))
    monkeypatch.setattr(cgroup, "ROOT", tmp_path)
    group = cgroup.create(256, 100, cpus=1.0)
    assert set(group.folders) == {"memory", "pids"}


def test_workers_nest_under_the_parent_the_environment_names(tmp_path, monkeypatch):
    fake_v1(tmp_path)
    monkeypatch.setattr(cgroup, "ROOT", tmp_path)
    monkeypatch.setenv(cgroup.PARENT_ENV, "envelope-7/workers")
    group = cgroup.create(256, 100)
    assert group.folders["memory"].parent == tmp_path / "memory" / "envelope-7" / "workers"
    monkeypatch.setenv(cgroup.PARENT_ENV, "../escape")     # never outside the controller's tree
    assert cgroup.create(256, 100).folders["memory"].parent == tmp_path / "memory" / "grader"
