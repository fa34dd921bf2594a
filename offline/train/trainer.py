"""The training loop, for any task: steps, checkpoints and resume, sample grids, the loss log, the
weight average, and the export of fp16 inference weights."""
from __future__ import annotations

import contextlib
import io
import math
import time
from pathlib import Path

import torch
from tqdm import tqdm

from stylize.errors import InputError, UserError, WeightsError
from stylize.imageio import write_atomic, write_image
from stylize.models import zoo
from stylize.models.weights import load_plain, sha256_of, verified_load
from stylize.offline.averaging import WeightAverage
from stylize.offline.train.config import TrainConfig, plain_dict
from stylize.offline.train.device import pick_device, use_bf16
from stylize.offline.train.losslog import LossLog
from stylize.offline.train.tasks import task_class
from stylize.offline.train.tasks.base import PERCEPTUAL_LOSSES


def save_atomic(obj, path: Path) -> None:
    buffer = io.BytesIO()
    torch.save(obj, buffer)
    write_atomic(path, buffer.getvalue())


CHECKPOINT_KEYS = {"kind": str, "step": int, "model": dict, "optimizer": dict, "generator": object,
                   "torch_rng": torch.Tensor}


def read_checkpoint(path: Path) -> dict:
    """A training checkpoint written by `Trainer.checkpoint`, loaded without running code, or InputError."""
    if not path.is_file():
        raise InputError(f"--resume {path}: no such checkpoint")
    state = load_plain(path, "--resume")
    wrong = [key for key, kind in CHECKPOINT_KEYS.items()
             if not isinstance(state, dict) or key not in state or not isinstance(state[key], kind)]
    if wrong:
        raise InputError(f"--resume: {path} is not a training checkpoint (it lacks {', '.join(wrong)}); "
                         "use the checkpoint.pt in a `stylize train` output folder")
    return state


def _shown(value) -> str:
    """An option's value as it is typed on the command line."""
    return ",".join(map(str, value)) if isinstance(value, list) else str(value)


class Trainer:
    """Trains the task named by `config.kind` with its `options` (default: that task's defaults).

    The output folder gets `checkpoint.pt` (resumable, written atomically every
    `checkpoint_every` steps and on Ctrl-C), `losses.csv`, `samples/step_NNNNNN.png`
    and, at the end, `<kind>.pt` with its sha256 beside.
    """

    def __init__(self, config: TrainConfig, options=None, *, progress: bool = True):
        task = task_class(config.kind)
        options = task.Options() if options is None else options
        if not isinstance(options, task.Options):
            raise TypeError(f"the {config.kind} task takes {task.Options.__name__}, not {type(options).__name__}")
        self.config, self.options, self.progress = config, options, progress
        self.device = pick_device(config.device)
        if config.threads:
            torch.set_num_threads(config.threads)
        torch.manual_seed(config.seed)
        self.generator = torch.Generator().manual_seed(config.seed)
        self.contents, self.styles = task.data(config, options, self.device)
        self.out = Path(config.out)
        (self.out / "samples").mkdir(parents=True, exist_ok=True)
        self.task = task(config, options, zoo.load_vgg().to(self.device))
        self.task.net.to(self.device)
        self.task.aux.to(self.device)
        self.optimizer = torch.optim.Adam([*self.task.trainable.parameters(), *self.task.aux.parameters()],
                                          lr=config.lr)
        self.average = WeightAverage(self.task.trainable, config.ema_decay) if config.ema_decay else None
        self.step = 0
        self.preview_contents = self.contents.fixed(4, seed=1)
        self.preview_styles = self.styles.fixed(4, seed=2)

    # --- checkpoints
    def settings(self) -> dict:
        """The run's shared and task options in one flat dict, as the checkpoint records them."""
        return {**self.config.as_dict(), **plain_dict(self.options)}

    def checkpoint(self) -> Path:
        path = self.out / "checkpoint.pt"
        save_atomic({"kind": self.config.kind, "step": self.step, "config": self.settings(),
                     "model": self.task.trainable.state_dict(), "aux": self.task.aux.state_dict(),
                     **({"average": self.average.state_dict()} if self.average else {}),
                     "optimizer": self.optimizer.state_dict(),
                     "generator": self.generator.get_state(), "torch_rng": torch.get_rng_state()}, path)
        return path

    def resume(self, path: str | Path) -> None:
        path = Path(path)
        state = read_checkpoint(path)
        if state["kind"] != self.config.kind:
            raise InputError(f"--resume {path}: checkpoint is for {state['kind']!r}, not {self.config.kind!r}")
        try:
            self.task.trainable.load_state_dict(state["model"])
            self.task.aux.load_state_dict(state.get("aux", {}))
            self.optimizer.load_state_dict(state["optimizer"])
        except (RuntimeError, ValueError) as error:
            raise self._misfit(path, state.get("config", {}), error) from None
        if self.average:
            # A run that kept no average (or a different one) starts it from the weights it resumes.
            self.average = WeightAverage(self.task.trainable, self.config.ema_decay)
            if "average" in state:
                self.average.load_state_dict(state["average"])
        try:
            self.generator.set_state(state["generator"])
            torch.set_rng_state(state["torch_rng"])
        except (RuntimeError, ValueError, TypeError, KeyError) as error:
            raise InputError(f"--resume {path}: the checkpoint's random state is damaged "
                             f"({str(error).splitlines()[0] if str(error) else type(error).__name__})") from None
        self.step = state["step"]

    def start_from(self, path: str | Path) -> None:
        """Begin (at step 0, fresh optimiser) from the weights in `path`, which `path`.sha256 vouches for.

        Keys only training uses (a distillation head) may be missing; they keep their fresh initialisation."""
        path = Path(path)
        sidecar = path.with_name(path.name + ".sha256")
        if not path.is_file() or not sidecar.is_file():
            raise InputError(f"--init {path}: needs the weights file and its .sha256 beside it "
                             "(as `stylize train` writes them)")
        recorded = sidecar.read_text().split()
        state = verified_load(path, recorded[0] if recorded else "", "--init")
        try:
            missing, unexpected = self.task.trainable.load_state_dict(state, strict=False)
        except (RuntimeError, ValueError) as error:
            raise self._misfit(path, {}, error) from None
        shipped = self.task.inference_state()
        needed = [key for key in missing if key in shipped]
        if needed or unexpected:
            raise WeightsError(f"--init {path}: the weights do not fit this net "
                               f"({'missing ' + needed[0] if needed else 'unexpected ' + unexpected[0]}…)")
        if self.average:  # the average starts from the weights begun from, not from the random ones
            self.average = WeightAverage(self.task.trainable, self.config.ema_decay)

    def _misfit(self, path: Path, saved: dict, error: Exception) -> UserError:
        """Why a checkpoint does not load: the task options it was trained with that differ from this run's."""
        differ = [f"--{k.replace('_', '-')} {_shown(saved[k])} (this run: {_shown(v)})"
                  for k, v in plain_dict(self.options).items() if k in saved and saved[k] != v]
        trained = f"; it was trained with {', '.join(differ)}" if differ else ""
        return WeightsError(f"--resume {path}: the checkpoint does not fit this net{trained} "
                            f"({str(error).splitlines()[0]})")

    def averaged(self):
        """A context with the weights that stand for the run in the net: the average if kept."""
        return self.average.applied(self.task.trainable) if self.average else contextlib.nullcontext()

    def export(self) -> Path:
        """fp16 inference weights plus their sha256, for the registry."""
        path = self.out / f"{self.config.kind}.pt"
        with self.averaged():
            state = {k: v.detach().half().cpu() for k, v in self.task.inference_state().items()}
        save_atomic(state, path)
        write_atomic(self.out / f"{path.name}.sha256", f"{sha256_of(path)}  {path.name}\n".encode())
        return path

    @torch.no_grad()
    def evaluate(self, content: torch.Tensor, style: torch.Tensor) -> dict[str, float]:
        """The losses on a fixed batch, without training (for held-out checks)."""
        self.task.net.eval()
        with self.averaged():
            losses = {k: float(v) for k, v in self.task.losses(content, style).items()}
        self.task.net.train()
        return losses

    # --- loop
    def _sample(self) -> Path:
        self.task.net.eval()
        with self.averaged():
            grid = self.task.preview(self.preview_contents, self.preview_styles)
        self.task.net.train()
        path = self.out / "samples" / f"step_{self.step:06d}.png"
        write_image(path, grid)
        return path

    def _train_step(self, bf16: bool) -> dict[str, float]:
        """One optimiser step on a fresh batch; returns its losses."""
        config = self.config
        for group in self.optimizer.param_groups:
            group["lr"] = config.lr / (1 + config.lr_decay * self.step)
        content = self.contents.sample(config.batch, self.generator)
        style = self.styles.sample(config.batch, self.generator)
        with torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=bf16):
            losses = self.task.losses(content, style)
        self.optimizer.zero_grad(set_to_none=True)
        losses["total"].backward()
        self.optimizer.step()
        if self.average:
            self.average.update(self.task.trainable)
        self.step += 1
        losses = {k: float(v.detach()) for k, v in losses.items()}
        if not math.isfinite(losses["total"]):
            raise UserError(f"loss became {losses['total']} at step {self.step}; lower --lr")
        return losses

    def _after_step(self, losses: dict[str, float], log: LossLog, bar: tqdm, seconds: float) -> None:
        """Log, sample and checkpoint when their step comes (and log and sample at the last step)."""
        config, last = self.config, self.step == self.config.steps
        bar.update(1)
        if self.step % config.log_every == 0 or last:
            bar.set_postfix({k: f"{v:.3g}" for k, v in losses.items()})
            log.write(self.step, seconds, losses)
        if self.step % config.sample_every == 0 or last:
            self._sample()
        if self.step % config.checkpoint_every == 0:
            self.checkpoint()

    def _out_of_time(self, started: float) -> bool:
        limit = self.config.max_seconds
        return limit is not None and time.perf_counter() - started >= limit

    def run(self) -> dict[str, float]:
        """Train up to `config.steps` (or `config.max_seconds`), then export; returns the last step's losses."""
        config = self.config
        bf16 = use_bf16(config.precision, self.device)
        columns = [*PERCEPTUAL_LOSSES, *self.task.loss_terms]
        started = time.perf_counter()
        losses: dict[str, float] = {}
        self.task.net.train()
        bar = tqdm(total=config.steps, initial=self.step, desc=f"train {config.kind}", unit="step",
                   disable=not self.progress, dynamic_ncols=True)
        with LossLog(self.out / "losses.csv", columns, fresh=self.step == 0) as log:
            try:
                while self.step < config.steps and not self._out_of_time(started):
                    losses = self._train_step(bf16)
                    self._after_step(losses, log, bar, time.perf_counter() - started)
            finally:
                bar.close()
                self.checkpoint()  # also on Ctrl-C, so --resume loses nothing
        self.export()
        return losses
