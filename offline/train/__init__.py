"""Train the live nets (AdaIN-r31 decoder, AesFA, the CPU student) against VGG-19 relu3_1.

    trainer = Trainer(TrainConfig(kind="aesfa", content_dir=..., style_dir=..., out=...),
                      AesFAOptions(teacher_weight=50))
    trainer.run()

config.py holds the options every task shares (`TrainConfig`), data.py the
images (`ImageBank`), tasks/ one module per net with its own options and
losses, and trainer.py the loop that knows no task: checkpoints and resume,
sample grids, the loss log, the weight average and the export.

The output folder gets `checkpoint.pt` (resumable, written atomically every
`checkpoint_every` steps and on Ctrl-C), `losses.csv`, `samples/step_NNNNNN.png`
(content rows x style columns) and, at the end, `<kind>.pt`: the inference
weights in fp16, plus its sha256 in `<kind>.pt.sha256`.
"""
from stylize.offline.train.config import TrainConfig, option
from stylize.offline.train.data import ImageBank
from stylize.offline.train.tasks import TASKS, Task, task_class
from stylize.offline.train.tasks.adain import AdaINTask
from stylize.offline.train.tasks.aesfa import AesFAOptions, AesFATask
from stylize.offline.train.tasks.base import NoOptions
from stylize.offline.train.tasks.student import StudentOptions, StudentTask
from stylize.offline.train.trainer import Trainer

__all__ = ["TASKS", "AdaINTask", "AesFAOptions", "AesFATask", "ImageBank", "NoOptions", "StudentOptions",
           "StudentTask", "Task", "TrainConfig", "Trainer", "option", "task_class"]
