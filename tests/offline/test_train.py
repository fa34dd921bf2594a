"""Training smoke runs on a handful of real images, with the real VGG teacher."""
import argparse
import dataclasses
import re
import shlex
import shutil

import pytest
import torch

from helpers import REPO, hostile_weight_files
from stylize.bench.nets import net_from_file
from stylize.cli import build_parser, main
from stylize.cli.train import add_options, options_from
from stylize.errors import OptionError, UserError
from stylize.models.losses import content_loss
from stylize.offline.averaging import trained_weights
from stylize.offline.train import TASKS, AesFAOptions, StudentOptions, TrainConfig, Trainer
from stylize.offline.train.config import cli_fields, option, parse_widths
from stylize.offline.train.tasks.base import PERCEPTUAL_LOSSES

pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def tiny_data(shared, tmp_path_factory):
    root = tmp_path_factory.mktemp("data")
    for kind in ("content", "style"):
        (root / kind).mkdir()
        for path in sorted((shared / "data" / "train" / kind).glob("*.jpg"))[:6]:
            shutil.copy(path, root / kind / path.name)
    return root


def _config(tiny_data, out, kind="student", **overrides):
    options = dict(kind=kind, content_dir=str(tiny_data / "content"), style_dir=str(tiny_data / "style"),
                   out=str(out), crop=64, short_side=96, batch=4, steps=30, lr=2e-3, precision="fp32",
                   sample_every=15, checkpoint_every=10, log_every=5)
    return TrainConfig(**{**options, **overrides})


def _trainer(tiny_data, out, kind="student", options=None, **overrides) -> Trainer:
    return Trainer(_config(tiny_data, out, kind, **overrides), options, progress=False)


@pytest.mark.parametrize("kind", ["student", "adain", "aesfa"])
def test_training_lowers_the_loss_on_a_held_batch(tiny_data, tmp_path, weights_dir, kind):
    # AesFA starts as AdaIN on its own features; a high lr first throws that away (30 steps at 2e-3: -5% only).
    steps, lr = (60, 5e-4) if kind == "aesfa" else (30, 2e-3)
    trainer = _trainer(tiny_data, tmp_path, kind, steps=steps, lr=lr)
    content, style = trainer.contents.fixed(4, seed=7), trainer.styles.fixed(4, seed=8)
    before = trainer.evaluate(content, style)
    trainer.run()
    after = trainer.evaluate(content, style)
    assert after["total"] < 0.9 * before["total"], (before, after)
    columns = (tmp_path / "losses.csv").read_text().splitlines()[0].split(",")
    assert columns == ["step", "seconds", *PERCEPTUAL_LOSSES, *TASKS[kind].loss_terms]
    assert set(after) <= set(columns)  # no term of the task's is dropped from the log
    # everything a user looks at after a run
    assert (tmp_path / f"{kind}.pt").is_file() and (tmp_path / f"{kind}.pt.sha256").is_file()
    assert (tmp_path / "losses.csv").read_text().count("\n") == 1 + steps // 5
    samples = sorted(p.name for p in (tmp_path / "samples").iterdir())
    assert samples == [f"step_{step:06d}.png" for step in range(15, steps + 1, 15)]
    shipped = torch.load(tmp_path / f"{kind}.pt", weights_only=True)
    assert all(v.dtype == torch.float16 for v in shipped.values())


def test_aesfa_identity_term_teaches_reconstruction(tiny_data, tmp_path, weights_dir):
    # At lr 5e-4: a higher one first throws away the AdaIN start (see the held-batch test).
    trainer = _trainer(tiny_data, tmp_path, "aesfa", AesFAOptions(identity_weight=500.0, contrastive_weight=0.0),
                       style_weight=0.0, lr=5e-4)
    content, style = trainer.contents.fixed(4, seed=7), trainer.styles.fixed(4, seed=8)
    before = trainer.evaluate(content, style)
    trainer.run()
    after = trainer.evaluate(content, style)
    assert after["identity"] < 0.9 * before["identity"], (before, after)
    assert "identity" in (tmp_path / "losses.csv").read_text().splitlines()[0]


# Without its term, each distance rises over the same 30 steps: L1 0.32 -> 0.36, feature MSE 16.6 -> 33.5.
@pytest.mark.parametrize("term, weight, fall", [("teacher", dict(teacher_weight=500.0), 0.9),
                                                ("teacher_features", dict(teacher_feature_weight=10.0), 0.95)])
def test_aesfa_teacher_terms_pull_towards_the_shipped_adain_image(tiny_data, tmp_path, weights_dir, term, weight,
                                                                   fall):
    options = AesFAOptions(contrastive_weight=0.0, distill_weight=0.0, **weight)
    trainer = _trainer(tiny_data, tmp_path, "aesfa", options, style_weight=0.0)
    assert not any(p.requires_grad for p in trainer.task.adain_decoder.parameters())  # frozen, never saved
    content, style = trainer.contents.fixed(4, seed=7), trainer.styles.fixed(4, seed=8)
    before = trainer.evaluate(content, style)
    trainer.run()
    after = trainer.evaluate(content, style)
    assert after[term] < fall * before[term], (before, after)
    other_term = ({"teacher", "teacher_features"} - {term}).pop()
    assert other_term not in after  # weight 0: not computed
    assert "contrastive" not in after  # weight 0: not computed at all
    assert not any(k.startswith("adain") for k in torch.load(tmp_path / "aesfa.pt", weights_only=True))


def test_aesfa_content_target_can_be_adains(tiny_data, tmp_path, weights_dir):
    trainer = _trainer(tiny_data, tmp_path, "aesfa", AesFAOptions(content_target="adain", contrastive_weight=0.0))
    content, style = trainer.contents.fixed(4, seed=7), trainer.styles.fixed(4, seed=8)
    net = trainer.task.net
    with torch.no_grad():
        teacher = trainer.task.teacher(content, style)
        output = net.decode(net.encode(content)[-1], net.predict_style(net.style_code(net.encode(style)[-1])))
        to_adain = content_loss(trainer.task.vgg(output).float(), teacher.target)
        to_content = content_loss(trainer.task.vgg(output).float(), teacher.content)
    assert trainer.evaluate(content, style)["content"] == pytest.approx(float(to_adain), rel=1e-4)
    assert float(to_adain) != pytest.approx(float(to_content), rel=1e-2)


@pytest.mark.parametrize("kind", ["student", "aesfa"])  # aesfa: with its training-only distillation head
def test_resume_continues_exactly(tiny_data, tmp_path, weights_dir, kind):
    straight = _trainer(tiny_data, tmp_path / "straight", kind, steps=20)
    straight.run()

    first = _trainer(tiny_data, tmp_path / "split", kind, steps=10)
    first.run()
    second = _trainer(tiny_data, tmp_path / "split", kind, steps=20)
    second.resume(tmp_path / "split" / "checkpoint.pt")
    assert second.step == 10
    second.run()

    for module in ("net", "aux"):
        pairs = zip(getattr(straight.task, module).state_dict().items(),
                    getattr(second.task, module).state_dict().values())
        for (name, a), b in pairs:
            assert torch.allclose(a, b, atol=1e-6), name


def test_resume_refuses_another_kind(tiny_data, tmp_path, weights_dir):
    _trainer(tiny_data, tmp_path, steps=2).run()
    other = _trainer(tiny_data, tmp_path / "adain", "adain", steps=2)
    with pytest.raises(UserError, match="not 'adain'"):
        other.resume(tmp_path / "checkpoint.pt")


def test_resume_explains_a_checkpoint_that_does_not_fit(tiny_data, tmp_path, weights_dir):
    _trainer(tiny_data, tmp_path, "aesfa", AesFAOptions(distill_weight=0.0), steps=2).run()
    with_head = _trainer(tiny_data, tmp_path / "other", "aesfa", steps=2)
    with pytest.raises(UserError, match=r"trained with --distill-weight 0.0 \(this run: 1.0\) \("):
        with_head.resume(tmp_path / "checkpoint.pt")


def test_resume_lines_up_a_loss_log_from_an_older_version(tiny_data, tmp_path, weights_dir):
    _trainer(tiny_data, tmp_path, steps=10).run()
    log = tmp_path / "losses.csv"
    header, *rows = log.read_text().splitlines()
    columns = header.split(",")
    keep = [i for i, name in enumerate(columns) if name != "identity"]  # a log written before that column
    log.write_text("\n".join(",".join(line.split(",")[i] for i in keep) for line in [header, *rows]) + "\n")

    later = _trainer(tiny_data, tmp_path, steps=20)
    later.resume(tmp_path / "checkpoint.pt")
    later.run()
    header, *rows = log.read_text().splitlines()
    assert header.split(",") == columns
    assert [int(row.split(",")[0]) for row in rows] == list(range(5, 25, 5))
    assert all(len(row.split(",")) == len(columns) for row in rows)


def test_a_run_with_a_weight_average_samples_exports_and_resumes_it(tiny_data, tmp_path, weights_dir):
    _trainer(tiny_data, tmp_path, "adain", steps=10, ema_decay=0.9).run()
    checkpoint = torch.load(tmp_path / "checkpoint.pt", weights_only=True)
    raw, averaged = checkpoint["model"], trained_weights(checkpoint)
    assert checkpoint["average"]["updates"] == 10
    assert any(not torch.equal(raw[k], averaged[k]) for k in raw)  # the average lags the last step
    exported = torch.load(tmp_path / "adain.pt", weights_only=True)
    assert all(torch.equal(exported[k], averaged[k].half()) for k in averaged)
    benched = net_from_file("adain", tmp_path / "checkpoint.pt").decoder.state_dict()  # --net METHOD=CKPT
    assert all(torch.equal(benched[k], averaged[k]) for k in averaged)

    later = _trainer(tiny_data, tmp_path, "adain", steps=12, ema_decay=0.9)
    later.resume(tmp_path / "checkpoint.pt")
    assert later.average.updates == 10
    assert all(torch.equal(later.average.weights[k], averaged[k]) for k in averaged)
    with later.averaged():  # what the samples and evaluate() see
        assert all(torch.equal(v, averaged[k]) for k, v in later.task.trainable.state_dict().items())
    assert all(torch.equal(v, raw[k]) for k, v in later.task.trainable.state_dict().items())  # training goes on raw

    # A run that kept no average starts one at the weights it resumes.
    _trainer(tiny_data, tmp_path / "plain", "adain", steps=2).run()
    switched = _trainer(tiny_data, tmp_path / "plain", "adain", steps=4, ema_decay=0.9)
    switched.resume(tmp_path / "plain" / "checkpoint.pt")
    plain = torch.load(tmp_path / "plain" / "checkpoint.pt", weights_only=True)["model"]
    assert switched.average.updates == 0
    assert all(torch.equal(switched.average.weights[k], plain[k]) for k in plain)


def test_cli_train_validates_before_work(cli, tmp_path):
    result = cli("train", "student", "--content", tmp_path / "nope", "--style", tmp_path, "-o", tmp_path / "o")
    assert result.returncode == 2 and "nope" in result.stderr.decode()
    result = cli("train", "aesfa", "--content", tmp_path, "--style", tmp_path, "--ema-decay", "1", "-o", tmp_path / "o")
    assert result.returncode == 2 and "--ema-decay must be in [0, 1)" in result.stderr.decode()


def test_cli_train_has_only_the_options_of_the_task(cli, tiny_data, tmp_path):
    result = cli("train", "student", "--content", tiny_data / "content", "--style", tiny_data / "style",
                 "--teacher-weight", "50", "-o", tmp_path / "o")
    assert result.returncode == 2
    assert result.stderr.decode().splitlines() == [
        "stylize: error: unrecognized arguments: --teacher-weight 50 (see --help)"]
    assert not (tmp_path / "o").exists()  # refused before any work
    helps = {kind: cli("train", kind, "--help").stdout.decode() for kind in TASKS}
    assert "--teacher-weight" in helps["aesfa"] and "--teacher-weight" not in helps["student"]
    assert "--widths" in helps["student"] and "--widths" not in helps["adain"]
    assert all("--crop PX" in text and "--size" not in text for text in helps.values())


@dataclasses.dataclass
class _SomeOptions:
    path: str = option(help="where", flags=("-p", "--path"), required=True)
    count: int = option(3, "how many (default %(default)s)")
    fast: bool = option(False, "go fast")
    widths: tuple = option((1, 2), "widths", type=parse_widths)
    internal: int = 7  # not on the command line


def test_options_become_flags_with_their_types_and_defaults():
    parser = argparse.ArgumentParser()
    add_options(parser, _SomeOptions)
    args = parser.parse_args(["-p", "x", "--count", "5", "--fast", "--widths", "4,8"])
    assert options_from(args, _SomeOptions) == _SomeOptions(path="x", count=5, fast=True, widths=(4, 8))
    assert options_from(parser.parse_args(["--path", "y"]), _SomeOptions) == _SomeOptions(path="y")
    assert "how many (default 3)" in parser.format_help() and "--internal" not in parser.format_help()
    with pytest.raises(SystemExit):
        parser.parse_args(["--count", "2"])  # --path is required


def test_a_task_takes_only_its_own_options_in_python_too(tiny_data, tmp_path):
    with pytest.raises(TypeError):
        StudentOptions(teacher_weight=5.0)
    with pytest.raises(TypeError, match="the aesfa task takes AesFAOptions, not StudentOptions"):
        _trainer(tiny_data, tmp_path, "aesfa", StudentOptions())
    with pytest.raises(OptionError, match="content_target must be one of content, adain"):
        AesFAOptions(content_target="style")
    with pytest.raises(OptionError, match="--crop must be a multiple of 8"):
        _config(tiny_data, tmp_path, crop=60)
    with pytest.raises(OptionError, match="unknown net 'gatys'"):
        _trainer(tiny_data, tmp_path, "gatys")
    shared = {field.name for field in cli_fields(TrainConfig)}
    for task in TASKS.values():  # a task's option never shadows a shared one in the flat checkpoint record
        assert not shared & {field.name for field in cli_fields(task.Options)}, task.name


def test_the_checkpoint_keeps_its_layout(tiny_data, tmp_path, weights_dir):
    # Other tools read it (offline/ship_runs.py, bench/nets.py), and older checkpoints must keep resuming.
    _trainer(tiny_data, tmp_path, "aesfa", AesFAOptions(teacher_weight=5.0), steps=2, ema_decay=0.9).run()
    checkpoint = torch.load(tmp_path / "checkpoint.pt", weights_only=True)
    assert set(checkpoint) == {"kind", "step", "config", "model", "aux", "average", "optimizer", "generator",
                               "torch_rng"}
    assert checkpoint["kind"] == "aesfa" and checkpoint["step"] == 2
    assert {"batch", "crop", "lr", "steps", "distill_weight", "teacher_weight", "width"} <= set(checkpoint["config"])
    assert checkpoint["config"]["teacher_weight"] == 5.0
    assert set(checkpoint["aux"]) == {"distill_head.weight", "distill_head.bias"}


def test_the_readme_training_commands_parse():
    blocks = re.findall(r"```bash\n(.*?)```", (REPO / "README.md").read_text(), flags=re.S)
    lines = [line for block in blocks for line in block.splitlines()]
    variables = dict(re.findall(r'(\w+)="([^"]*)"', "\n".join(line for line in lines if re.match(r'\w+="', line))))
    commands = [line for line in lines if line.startswith("stylize train ")]
    assert len(commands) >= 3
    parser = build_parser()
    for command in commands:
        words = shlex.split(re.sub(r"\$(\w+)", lambda m: variables[m.group(1)], command.split("#")[0]))
        args = parser.parse_args(words[1:])  # exits 2 on an option the task does not have
        assert args.kind in TASKS and args.crop == 128, command


@pytest.mark.parametrize("name", ["photo.jpg", "bare.pt", "code.pt", "code.pkl", "empty.pt", "truncated.pt",
                                  "plain-dict.pt"])
def test_resume_from_a_file_that_is_no_checkpoint_is_one_line(tiny_data, tmp_path, weights_dir, name, capsys):
    files = hostile_weight_files(tmp_path)
    torch.save({"model": {"w": torch.zeros(2)}, "kind": "student"}, tmp_path / "plain-dict.pt")
    files["plain-dict.pt"] = tmp_path / "plain-dict.pt"
    code = main(["train", "student", "--content", str(tiny_data / "content"), "--style", str(tiny_data / "style"),
                 "-o", str(tmp_path / "out"), "--crop", "64", "--short-side", "96", "--steps", "2",
                 "--resume", str(files[name])])
    stderr = capsys.readouterr().err.strip()
    assert code == 2 and len(stderr.splitlines()) == 1, stderr
    assert stderr.startswith("stylize train: error: --resume") and str(files[name]) in stderr
    assert "weights_only" not in stderr and "\x1b" not in stderr
    assert not (tmp_path / "PWNED").exists()


def test_init_starts_at_step_zero_from_exported_weights(tiny_data, tmp_path, weights_dir):
    first = _trainer(tiny_data, tmp_path / "first", steps=2)
    first.run()
    exported = first.export()
    second = _trainer(tiny_data, tmp_path / "second", steps=2, ema_decay=0.99)
    second.start_from(exported)
    assert second.step == 0
    with second.averaged():
        averaged = second.task.inference_state()
    for key, value in first.task.inference_state().items():
        assert torch.equal(second.task.inference_state()[key], value.half().float()), key
        assert torch.equal(averaged[key], value.half().float()), key


def test_init_needs_the_sha256_and_weights_that_fit(tiny_data, tmp_path, weights_dir):
    first = _trainer(tiny_data, tmp_path / "first", steps=1)
    first.run()
    exported = first.export()
    narrow = _trainer(tiny_data, tmp_path / "narrow", options=StudentOptions(widths=(8, 16, 24)), steps=1)
    with pytest.raises(UserError, match="does not fit this net"):
        narrow.start_from(exported)
    exported.write_bytes(exported.read_bytes() + b"\0")
    with pytest.raises(UserError, match="sha256"):
        _trainer(tiny_data, tmp_path / "third", steps=1).start_from(exported)
    exported.with_name(exported.name + ".sha256").unlink()
    with pytest.raises(UserError, match=r"\.sha256 beside it"):
        _trainer(tiny_data, tmp_path / "fourth", steps=1).start_from(exported)
