"""Container log tailing for the node agent.

* `tail`: discover and tail `/var/log/pods` files, exactly once across kubelet rotation;
* `formats`: turn the bytes read into entries (CRI or docker json-file, autodetected per file);
* `checkpoints`: persist read offsets (and the parser's pending pieces) across restarts.
"""
