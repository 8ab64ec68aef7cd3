#!/usr/bin/env python3
"""Traffic for the shaped-link tests (utp_link.rs), run inside a namespace.

  link_probe.py tcp-sink ADDR PORT     accept one TCP connection, discard what comes
  link_probe.py tcp-source ADDR PORT [CC]
                                       send zeros to ADDR:PORT as fast as TCP allows,
                                       with congestion control CC (default cubic)
  link_probe.py echo ADDR PORT         echo every UDP datagram back to its sender
  link_probe.py ping ADDR PORT MS      every MS milliseconds send a datagram to the
                                       echo and print `rtt <ms>` for each reply

Prints `ready` once listening or connected. Runs until killed.
"""
import socket
import struct
import sys
import time


def say(line):
    print(line, flush=True)


# SO_RCVBUFFORCE / SO_SNDBUFFORCE (root): past net.core.*mem_max.
RCVBUFFORCE, SNDBUFFORCE = 33, 32
# The bulk flow's buffers, as `iperf3 -w` sets them, so that neither end's
# buffer is what limits the flow: on links with no delay of their own
# autotuning starts from small buffers.
BULK_BUF = 8 << 20


def tcp_sink(addr, port):
    srv = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    srv.setsockopt(socket.SOL_SOCKET, RCVBUFFORCE, BULK_BUF)
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind((addr, port))
    srv.listen(1)
    say("ready")
    conn, _ = srv.accept()
    while conn.recv(1 << 20):
        pass


def tcp_source(addr, port, cc):
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, SNDBUFFORCE, BULK_BUF)
    # Named, not the namespace's default (inherited from the host, which
    # may be BBR): the flow stands for a desktop's bulk TCP transfer.
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_CONGESTION, cc.encode())
    sock.connect((addr, port))
    say("ready")
    block = bytes(1 << 16)
    while True:
        sock.sendall(block)


def echo(addr, port):
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind((addr, port))
    say("ready")
    while True:
        data, peer = sock.recvfrom(2048)
        sock.sendto(data, peer)


def ping(addr, port, every_ms):
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.connect((addr, port))
    sock.settimeout(every_ms / 1000.0)
    say("ready")
    seq = 0
    while True:
        seq += 1
        sock.send(struct.pack("!Qd", seq, time.monotonic()))
        deadline = time.monotonic() + every_ms / 1000.0
        # Replies to earlier pings still count: a queue can hold several.
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                break
            sock.settimeout(left)
            try:
                data = sock.recv(64)
            except socket.timeout:
                break
            if len(data) == 16:
                _, sent = struct.unpack("!Qd", data)
                say("rtt %.3f" % ((time.monotonic() - sent) * 1000.0))


def main():
    mode, addr, port = sys.argv[1], sys.argv[2], int(sys.argv[3])
    if mode == "tcp-sink":
        tcp_sink(addr, port)
    elif mode == "tcp-source":
        tcp_source(addr, port, sys.argv[4] if len(sys.argv) > 4 else "cubic")
    elif mode == "echo":
        echo(addr, port)
    elif mode == "ping":
        ping(addr, port, int(sys.argv[4]))
    else:
        sys.exit("unknown mode " + mode)


if __name__ == "__main__":
    main()
