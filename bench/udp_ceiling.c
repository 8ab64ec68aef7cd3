/* bench/udp_ceiling.c — the load generator's ceiling for bench/tracker.sh.
 *
 * A UDP "tracker" that keeps no state: it answers every BEP 15 connect with a
 * fixed connection id, every announce with an empty peer list and every scrape
 * with zeros, using recvmmsg/sendmmsg in batches of 64 and polling without
 * sleeping. No real tracker can do less work per request, so the responses/s
 * aquatic_udp_load_test reaches against it bound what any tracker can show on
 * this machine with the same load-test settings.
 *
 * Usage: udp_ceiling PORT   (binds 127.0.0.1:PORT; stop it with a signal)
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#define BATCH 64
#define BUF 2048

static void put32(uint8_t *p, uint32_t v) { v = htonl(v); memcpy(p, &v, 4); }

int main(int argc, char **argv) {
    if (argc != 2) { fprintf(stderr, "usage: %s PORT\n", argv[0]); return 2; }
    int fd = socket(AF_INET, SOCK_DGRAM, 0);
    int rcv = 8000000;
    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcv, sizeof rcv);
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(atoi(argv[1])) };
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (bind(fd, (struct sockaddr *)&a, sizeof a) != 0) { perror("bind"); return 1; }
    static uint8_t in[BATCH][BUF], out[BATCH][BUF];
    static struct sockaddr_in from[BATCH];
    static struct iovec iv[BATCH], ov[BATCH];
    static struct mmsghdr rh[BATCH], sh[BATCH];
    for (;;) {
        for (int i = 0; i < BATCH; i++) {
            iv[i] = (struct iovec){ in[i], BUF };
            rh[i].msg_hdr = (struct msghdr){ .msg_name = &from[i], .msg_namelen = sizeof from[i],
                                             .msg_iov = &iv[i], .msg_iovlen = 1 };
        }
        int n = recvmmsg(fd, rh, BATCH, MSG_DONTWAIT, NULL);
        if (n <= 0) continue;
        int m = 0;
        for (int i = 0; i < n; i++) {
            uint8_t *p = in[i], *o = out[m];
            size_t len = rh[i].msg_len, olen;
            if (len < 16) continue;
            uint32_t action; memcpy(&action, p + 8, 4); action = ntohl(action);
            memcpy(o + 4, p + 12, 4); /* transaction id */
            put32(o, action);
            if (action == 0) { memset(o + 8, 0x5a, 8); olen = 16; }
            else if (action == 1 && len >= 98) { put32(o + 8, 1800); put32(o + 12, 0); put32(o + 16, 1); olen = 20; }
            else if (action == 2) { size_t k = (len - 16) / 20; memset(o + 8, 0, 12 * k); olen = 8 + 12 * k; }
            else continue;
            ov[m] = (struct iovec){ o, olen };
            sh[m].msg_hdr = (struct msghdr){ .msg_name = &from[i], .msg_namelen = rh[i].msg_hdr.msg_namelen,
                                             .msg_iov = &ov[m], .msg_iovlen = 1 };
            m++;
        }
        for (int s = 0; s < m;) {
            int r = sendmmsg(fd, sh + s, m - s, 0);
            s += r > 0 ? r : 1;
        }
    }
}
