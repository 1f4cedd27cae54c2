"""The stages of notification delivery, one module each; `notify/pipeline.py` chains them.

claim (claim.py) -> expand (expand.py) -> channel (channel.py) -> render (render.py)
-> gate (gate.py) -> send (send.py) -> record (record.py). The values they pass along are in
work.py.
"""
