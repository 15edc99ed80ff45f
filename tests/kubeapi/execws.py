"""pods/exec for the API-server double: the websocket upgrade and the channel
protocol kubectl 1.30+ speaks (v5.channel.k8s.io, v4.channel.k8s.io).

The double runs no containers. A pod whose annotation
`kubeapi.cairn.dev/exec-root` names a folder gets its commands run as local
processes in that folder (the kubelet simulator points it at the pod's volume
root, so `sh -c 'date > data/x'` writes into volume `data`); any other pod
answers as a real server does for a container that is not running.
"""

import base64
import hashlib
import json
import os
import struct
import subprocess
import threading

from objutil import ApiError

GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
PROTOCOLS = ("v5.channel.k8s.io", "v4.channel.k8s.io")
EXEC_ROOT = "kubeapi.cairn.dev/exec-root"
MAX_FRAME = 16 << 20


def is_exec(handler, parts):
    """True for GET/POST .../namespaces/NS/pods/NAME/exec with a websocket upgrade."""
    return (handler.headers.get("Upgrade", "").lower() == "websocket" and
            len(parts) == 7 and parts[:2] == ["api", "v1"] and
            parts[2] == "namespaces" and parts[4] == "pods" and parts[6] == "exec")


def frame(opcode, payload):
    n = len(payload)
    if n < 126:
        head = struct.pack("!BB", 0x80 | opcode, n)
    elif n < 65536:
        head = struct.pack("!BBH", 0x80 | opcode, 126, n)
    else:
        head = struct.pack("!BBQ", 0x80 | opcode, 127, n)
    return head + payload


def read_frame(rfile):
    """One client frame (clients must mask): (opcode, payload) or None at EOF."""
    head = rfile.read(2)
    if len(head) < 2:
        return None
    opcode, n = head[0] & 0x0F, head[1] & 0x7F
    masked = head[1] & 0x80
    if n == 126:
        n = struct.unpack("!H", rfile.read(2))[0]
    elif n == 127:
        n = struct.unpack("!Q", rfile.read(8))[0]
    if not masked or n > MAX_FRAME:
        return None
    mask = rfile.read(4)
    data = bytearray(rfile.read(n))
    for i in range(len(data)):
        data[i] ^= mask[i % 4]
    return opcode, bytes(data)


def status_doc(code, output_err=None):
    if code == 0 and output_err is None:
        return {"metadata": {}, "status": "Success"}
    if output_err is not None:
        return {"metadata": {}, "status": "Failure", "message": output_err,
                "reason": "InternalError", "code": 500}
    return {"metadata": {}, "status": "Failure",
            "message": "command terminated with non-zero exit code: exit status %d" % code,
            "reason": "NonZeroExitCode",
            "details": {"causes": [{"reason": "ExitCode", "message": str(code)}]}}


def serve(handler, ns, name, query):
    pod = handler.server.store.get(handler.server.cat.get("", "v1", "pods"), ns, name)
    containers = [c.get("name") for c in pod.get("spec", {}).get("containers", [])]
    want = query.get("container", [""])[-1]
    if not want:
        if len(containers) != 1:
            raise ApiError(400, "BadRequest", "a container name must be specified for "
                           "pod %s, choose one of: %s" % (name, containers))
        want = containers[0]
    if want not in containers:
        raise ApiError(400, "BadRequest", "container %s is not valid for pod %s"
                       % (want, name))
    if pod.get("status", {}).get("phase") != "Running":
        raise ApiError(400, "BadRequest", "unable to upgrade connection: container "
                       "not found (\"%s\")" % want)
    root = pod.get("metadata", {}).get("annotations", {}).get(EXEC_ROOT)
    if not root or not os.path.isdir(root):
        raise ApiError(400, "BadRequest", "unable to upgrade connection: container "
                       "not found (\"%s\")" % want)
    command = query.get("command", [])
    if not command:
        raise ApiError(400, "BadRequest", "you must specify at least one command "
                       "for the container")
    offered = [p.strip() for p in handler.headers.get("Sec-WebSocket-Protocol",
                                                        "").split(",")]
    proto = next((p for p in PROTOCOLS if p in offered), None)
    key = handler.headers.get("Sec-WebSocket-Key", "")
    if not proto or not key:
        raise ApiError(400, "BadRequest", "unable to upgrade connection: missing "
                       "websocket key or a supported channel protocol")
    accept = base64.b64encode(hashlib.sha1(key.encode() + GUID).digest()).decode()
    handler.send_response(101, "Switching Protocols")
    handler.send_header("Upgrade", "websocket")
    handler.send_header("Connection", "Upgrade")
    handler.send_header("Sec-WebSocket-Accept", accept)
    handler.send_header("Sec-WebSocket-Protocol", proto)
    handler.end_headers()
    handler.wfile.flush()
    handler._log(101)
    handler.close_connection = True
    run(handler, command, root, query.get("stdin", ["false"])[-1] == "true")


def run(handler, command, root, want_stdin):
    wlock = threading.Lock()

    def send(channel, data):
        with wlock:
            try:
                handler.wfile.write(frame(2, bytes([channel]) + data))
                handler.wfile.flush()
            except OSError:
                pass

    try:
        proc = subprocess.Popen(command, cwd=root, stdin=subprocess.PIPE if want_stdin
                                else subprocess.DEVNULL, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE)
    except OSError as e:
        send(3, json.dumps(status_doc(0, "exec: %s" % e)).encode())
        send_close(handler, wlock)
        return

    def pump(pipe, channel):
        for chunk in iter(lambda: pipe.read1(65536), b""):
            send(channel, chunk)

    pumps = [threading.Thread(target=pump, args=(proc.stdout, 1), daemon=True),
             threading.Thread(target=pump, args=(proc.stderr, 2), daemon=True)]
    for t in pumps:
        t.start()
    if want_stdin:
        threading.Thread(target=feed_stdin, args=(handler, proc), daemon=True).start()
    code = proc.wait()
    for t in pumps:
        t.join()
    send(3, json.dumps(status_doc(code)).encode())
    send_close(handler, wlock)


def feed_stdin(handler, proc):
    while True:
        f = read_frame(handler.rfile)
        if f is None or f[0] == 8:
            break
        opcode, data = f
        if opcode in (1, 2) and data:
            if data[0] == 0:
                try:
                    proc.stdin.write(data[1:])
                    proc.stdin.flush()
                except OSError:
                    break
            elif data[0] == 255:   # v5: close the stream named by the next byte
                break
    try:
        proc.stdin.close()
    except OSError:
        pass


def send_close(handler, wlock):
    with wlock:
        try:
            handler.wfile.write(frame(8, struct.pack("!H", 1000)))
            handler.wfile.flush()
        except OSError:
            pass
