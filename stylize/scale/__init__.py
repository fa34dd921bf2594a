"""Many videos, many machines: long videos split into segments and whole folders, on Ray or in-process.

- plan.py: where a video is cut (keyframes first) and which frames each segment owns;
- segment_source.py: a Source that seeks to one segment and decodes only it (plus its history);
- worker.py: what one worker does (a segment, an image, a whole file), with the net loaded once;
- store.py: the finished segments of an output, kept for a resumed run and verified before reuse;
- join.py: segments into one file, packets copied with their timestamps, the source's audio untouched;
- cluster.py: Ray itself (imported lazily), the actors and the retries;
- jobs.py: files into tasks and results into outputs, run through Ray or one worker in this process.
"""

# How segments become one file (join.py). Here, so the command line can offer them without loading PyAV.
JOINS = ("encode", "remux")
