#!/usr/bin/python3
"""Prints every LSD announce (BEP 14) heard on 239.192.152.143:6771 on the
interface with address IP, one per line (CRLF shown as " | ").

    lsd_listen.py IP
"""
import socket
import struct
import sys

s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("", 6771))
group = struct.pack("4s4s", socket.inet_aton("239.192.152.143"), socket.inet_aton(sys.argv[1]))
s.setsockopt(socket.IPPROTO_IP, socket.IP_ADD_MEMBERSHIP, group)
print("listening", flush=True)
while True:
    data, source = s.recvfrom(4096)
    print(source[0], data.decode(errors="replace").replace("\r\n", " | "), flush=True)
