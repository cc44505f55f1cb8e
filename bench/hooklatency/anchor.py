#!/usr/bin/python3
"""The benchmark's Python anchor: what the Socket.IO guide's Python hook does.

Reads the hook input on stdin, connects to mpmd's /hook namespace with
python-socketio over websocket, emits the event, waits for the ack and
disconnects. Usage: anchor.py URL < input.json
"""
import json
import sys

import socketio


def main():
    url = sys.argv[1]
    data = json.load(sys.stdin)
    sio = socketio.Client(reconnection=False)
    sio.connect(url, namespaces=["/hook"], transports=["websocket"],
                auth={"producer": True}, wait_timeout=5)
    sio.call("pre_tool", data, namespace="/hook", timeout=5)
    sio.disconnect()


if __name__ == "__main__":
    main()
