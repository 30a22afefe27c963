/*
 * test_ws.c — the RFC 6455 codec (fcgi/ws.c) without a socket: the accept
 * key of the RFC's own example, handshake answers, and frame parsing of
 * masked, unmasked, fragmented, oversize, bad-opcode, bad-control and
 * invalid UTF-8 input, each with the close code the server must send; and
 * that an idle connection's codec holds no buffer.
 */
#include <stdlib.h>
#include <string.h>

#include "noom.h"
#include "unit.h"

/* A masked client frame of op (fin or not) with payload p[0..n) into out. */
static size_t
client_frame(unsigned char *out, int fin, int op, const void *p, size_t n)
{
	static const unsigned char mask[4] = { 0x37, 0xfa, 0x21, 0x3d };
	size_t	 h = 2, i;

	out[0] = (fin ? 0x80 : 0) | op;
	if (n < 126)
		out[1] = 0x80 | (unsigned char)n;
	else if (n <= 0xffff) {
		out[1] = 0x80 | 126;
		out[2] = (unsigned char)(n >> 8);
		out[3] = (unsigned char)n;
		h = 4;
	} else {
		out[1] = 0x80 | 127;
		for (i = 0; i < 8; i++)
			out[2 + i] = (unsigned char)((uint64_t)n >> (56 - 8 * i));
		h = 10;
	}
	memcpy(out + h, mask, 4);
	for (i = 0; i < n; i++)
		out[h + 4 + i] = ((const unsigned char *)p)[i] ^ mask[i & 3];
	return h + 4 + n;
}

/* Parse everything in b[0..n) and return the last result, message in m. */
static int
parse_all(struct ws_in *w, unsigned char *b, size_t n, struct ws_msg *m)
{
	size_t	 off = 0, used;
	int	 rv;

	do {
		rv = ws_parse(w, b + off, n - off, &used, m);
		off += used;
	} while (rv == WS_FRAME || (rv == WS_MSG && off < n));
	return rv;
}

static void
test_accept_key(void)
{
	char	 out[29];

	/* RFC 6455 section 1.3. */
	CHECK(ws_accept_key("dGhlIHNhbXBsZSBub25jZQ==", out) == 0);
	CHECK_STR(out, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
	CHECK(ws_accept_key("short==", out) == -1);
	CHECK(ws_accept_key("dGhlIHNhbXBsZSBub25jZQ!!", out) == -1);
	CHECK(ws_accept_key("", out) == -1);
}

static void
test_handshake(void)
{
	const char	*ok = "GET /noom/ws HTTP/1.1\r\nHost: x\r\n"
	    "upgrade: WebSocket\r\nConnection: keep-alive, Upgrade\r\n"
	    "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
	    "Sec-WebSocket-Version: 13\r\n\r\n\x81";
	const char	*v8 = "GET /ws HTTP/1.1\r\nUpgrade: websocket\r\n"
	    "Connection: Upgrade\r\nSec-WebSocket-Key: "
	    "dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 8\r\n\r\n";
	const char	*plain = "GET /ws HTTP/1.1\r\nHost: x\r\n\r\n";
	const char	*post = "POST /ws HTTP/1.1\r\nHost: x\r\n\r\n";
	const char	*nokey = "GET /ws HTTP/1.1\r\nUpgrade: websocket\r\n"
	    "Connection: Upgrade\r\nSec-WebSocket-Version: 13\r\n\r\n";
	const char	*errstr;
	struct buf	 out;
	char		*big;

	buf_init(&out);
	CHECK(ws_handshake(ok, 20, &out, &errstr) == 0);	/* not yet */
	CHECK(ws_handshake(ok, strlen(ok), &out, &errstr) ==
	    (int)strlen(ok) - 1);			/* the frame byte stays */
	CHECK(strncmp(out.data, "HTTP/1.1 101 ", 13) == 0);
	CHECK(strstr(out.data, "Sec-WebSocket-Accept: "
	    "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n") != NULL);

	out.len = 0;
	CHECK(ws_handshake(v8, strlen(v8), &out, &errstr) == -1);
	CHECK(strncmp(out.data, "HTTP/1.1 426 ", 13) == 0);
	CHECK(strstr(out.data, "Sec-WebSocket-Version: 13\r\n") != NULL);
	out.len = 0;
	CHECK(ws_handshake(plain, strlen(plain), &out, &errstr) == -1);
	CHECK(strncmp(out.data, "HTTP/1.1 426 ", 13) == 0);
	out.len = 0;
	CHECK(ws_handshake(post, strlen(post), &out, &errstr) == -1);
	CHECK(strncmp(out.data, "HTTP/1.1 405 ", 13) == 0);
	out.len = 0;
	CHECK(ws_handshake(nokey, strlen(nokey), &out, &errstr) == -1);
	CHECK(strncmp(out.data, "HTTP/1.1 400 ", 13) == 0);

	/* A head that never ends is refused at the bound. */
	big = malloc(WS_HEAD_MAX);
	memset(big, 'a', WS_HEAD_MAX);
	memcpy(big, "GET / HTTP/1.1\r\nX: ", 19);
	out.len = 0;
	CHECK(ws_handshake(big, WS_HEAD_MAX, &out, &errstr) == -1);
	CHECK(strncmp(out.data, "HTTP/1.1 431 ", 13) == 0);
	free(big);
	buf_free(&out);
}

static void
test_frames(void)
{
	unsigned char	 b[200000];
	struct ws_in	 w;
	struct ws_msg	 m;
	size_t		 n, used;
	char		*big;

	/* A masked text frame; a partial one waits. */
	ws_in_init(&w, WS_MSG_MAX);
	n = client_frame(b, 1, WS_TEXT, "Hello", 5);
	CHECK(ws_parse(&w, b, n - 1, &used, &m) == WS_MORE && used == 0);
	CHECK(ws_parse(&w, b, 1, &used, &m) == WS_MORE);
	CHECK(ws_parse(&w, b, n, &used, &m) == WS_MSG && used == n);
	CHECK(m.op == WS_TEXT && m.len == 5 && memcmp(m.data, "Hello", 5) == 0);
	ws_in_free(&w);

	/* RFC 6455 5.7: an unmasked frame is refused by a server. */
	ws_in_init(&w, WS_MSG_MAX);
	memcpy(b, "\x81\x05Hello", 7);
	CHECK(ws_parse(&w, b, 7, &used, &m) == WS_FAIL && m.code == 1002);
	ws_in_free(&w);

	/* Fragments with a ping between them; UTF-8 split across them. */
	ws_in_init(&w, WS_MSG_MAX);
	n = client_frame(b, 0, WS_TEXT, "Hel\xc3", 4);
	n += client_frame(b + n, 1, WS_PING, "p", 1);
	n += client_frame(b + n, 0, WS_CONT, "\xa9l", 2);
	n += client_frame(b + n, 1, WS_CONT, "o", 1);
	CHECK(ws_parse(&w, b, n, &used, &m) == WS_FRAME);
	n -= used;
	memmove(b, b + used, n);
	CHECK(ws_parse(&w, b, n, &used, &m) == WS_MSG && m.op == WS_PING &&
	    m.len == 1 && m.data[0] == 'p');
	CHECK(parse_all(&w, b + used, n - used, &m) == WS_MSG);
	CHECK(m.op == WS_TEXT && m.len == 7 &&
	    memcmp(m.data, "Hel\xc3\xa9lo", 7) == 0);
	ws_in_free(&w);

	/* Continuation with nothing to continue; a new message inside one. */
	ws_in_init(&w, WS_MSG_MAX);
	n = client_frame(b, 1, WS_CONT, "x", 1);
	CHECK(parse_all(&w, b, n, &m) == WS_FAIL && m.code == 1002);
	ws_in_free(&w);
	ws_in_init(&w, WS_MSG_MAX);
	n = client_frame(b, 0, WS_TEXT, "a", 1);
	n += client_frame(b + n, 1, WS_TEXT, "b", 1);
	CHECK(parse_all(&w, b, n, &m) == WS_FAIL && m.code == 1002);
	ws_in_free(&w);

	/* Unknown opcodes, reserved bits, bad control frames. */
	ws_in_init(&w, WS_MSG_MAX);
	n = client_frame(b, 1, 0x3, "x", 1);
	CHECK(parse_all(&w, b, n, &m) == WS_FAIL && m.code == 1002);
	n = client_frame(b, 1, 0xb, "x", 1);
	CHECK(parse_all(&w, b, n, &m) == WS_FAIL && m.code == 1002);
	n = client_frame(b, 1, WS_TEXT, "x", 1);
	b[0] |= 0x40;
	CHECK(parse_all(&w, b, n, &m) == WS_FAIL && m.code == 1002);
	n = client_frame(b, 0, WS_PING, "x", 1);
	CHECK(parse_all(&w, b, n, &m) == WS_FAIL && m.code == 1002);
	memset(b + 1000, 'x', 126);
	n = client_frame(b, 1, WS_PING, b + 1000, 126);
	CHECK(parse_all(&w, b, n, &m) == WS_FAIL && m.code == 1002);
	ws_in_free(&w);

	/* Oversize: refused from the header, before the payload came. */
	ws_in_init(&w, WS_MSG_MAX);
	big = calloc(1, WS_MSG_MAX + 1);
	n = client_frame(b, 1, WS_BINARY, big, WS_MSG_MAX + 1);
	CHECK(ws_parse(&w, b, 14, &used, &m) == WS_FAIL && m.code == 1009);
	ws_in_free(&w);
	/* ... also when the fragments only add up to too much. */
	ws_in_init(&w, WS_MSG_MAX);
	n = client_frame(b, 0, WS_TEXT, big, WS_MSG_MAX / 2 + 1);
	n += client_frame(b + n, 1, WS_CONT, big, WS_MSG_MAX / 2);
	CHECK(parse_all(&w, b, n, &m) == WS_FAIL && m.code == 1009);
	ws_in_free(&w);
	/* Exactly the limit is fine (a 64-bit length field: 127). */
	ws_in_init(&w, WS_MSG_MAX);
	n = client_frame(b, 1, WS_TEXT, big, WS_MSG_MAX);
	CHECK(parse_all(&w, b, n, &m) == WS_MSG && m.len == WS_MSG_MAX);
	ws_in_free(&w);
	free(big);

	/* Invalid UTF-8 in text: 1007; in binary it is just bytes. */
	ws_in_init(&w, WS_MSG_MAX);
	n = client_frame(b, 1, WS_TEXT, "\xc0\xaf", 2);
	CHECK(parse_all(&w, b, n, &m) == WS_FAIL && m.code == 1007);
	ws_in_free(&w);
	ws_in_init(&w, WS_MSG_MAX);
	n = client_frame(b, 1, WS_TEXT, "\xed\xa0\x80", 3);	/* surrogate */
	CHECK(parse_all(&w, b, n, &m) == WS_FAIL && m.code == 1007);
	n = client_frame(b, 1, WS_BINARY, "\xc0\xaf", 2);
	ws_in_free(&w);
	ws_in_init(&w, WS_MSG_MAX);
	CHECK(parse_all(&w, b, n, &m) == WS_MSG && m.op == WS_BINARY);
	ws_in_free(&w);

	/* Close frames: code and reason, none, one byte, a reserved code. */
	ws_in_init(&w, WS_MSG_MAX);
	n = client_frame(b, 1, WS_CLOSE, "\x03\xe8" "bye", 5);
	CHECK(parse_all(&w, b, n, &m) == WS_MSG && m.op == WS_CLOSE &&
	    m.code == 1000);
	n = client_frame(b, 1, WS_CLOSE, "", 0);
	CHECK(parse_all(&w, b, n, &m) == WS_MSG && m.code == 1005);
	n = client_frame(b, 1, WS_CLOSE, "\x03", 1);
	CHECK(parse_all(&w, b, n, &m) == WS_FAIL && m.code == 1002);
	n = client_frame(b, 1, WS_CLOSE, "\x03\xed", 2);	/* 1005 */
	CHECK(parse_all(&w, b, n, &m) == WS_FAIL && m.code == 1002);
	n = client_frame(b, 1, WS_CLOSE, "\x0f\xa0", 2);	/* 4000 */
	CHECK(parse_all(&w, b, n, &m) == WS_MSG && m.code == 4000);
	n = client_frame(b, 1, WS_CLOSE, "\x03\xe8\xff", 3);
	CHECK(parse_all(&w, b, n, &m) == WS_FAIL && m.code == 1007);
	ws_in_free(&w);
}

static void
test_encode(void)
{
	struct buf	 out;
	char		*big;

	buf_init(&out);
	ws_frame(&out, WS_TEXT, "hi", 2);
	CHECK(out.len == 4 && memcmp(out.data, "\x81\x02hi", 4) == 0);
	out.len = 0;
	big = calloc(1, 70000);
	ws_frame(&out, WS_TEXT, big, 300);
	CHECK(out.len == 304 && (unsigned char)out.data[1] == 126 &&
	    (unsigned char)out.data[2] == 1 && (unsigned char)out.data[3] == 44);
	out.len = 0;
	ws_frame(&out, WS_BINARY, big, 70000);
	CHECK(out.len == 70010 && (unsigned char)out.data[1] == 127 &&
	    (unsigned char)out.data[7] == 1 &&
	    (unsigned char)out.data[8] == 0x11 &&
	    (unsigned char)out.data[9] == 0x70);
	out.len = 0;
	ws_close_frame(&out, 4401, "unauthorized");
	CHECK(out.len == 16 && (unsigned char)out.data[0] == 0x88 &&
	    out.data[1] == 14 && (unsigned char)out.data[2] == 0x11 &&
	    (unsigned char)out.data[3] == 0x31 &&
	    memcmp(out.data + 4, "unauthorized", 12) == 0);
	free(big);
	buf_free(&out);
}

/*
 * Between messages the parser holds no buffer (an open WebSocket's memory),
 * and a freed buffer fills again: a buffer that was freed, a message after
 * one, an empty message.
 */
static void
test_idle(void)
{
	unsigned char	 b[64];
	struct buf	 out = { 0 };
	struct ws_in	 w;
	struct ws_msg	 m;
	size_t		 n, used;

	buf_add(&out, "ab", 2);
	CHECK(out.len == 2 && strcmp(out.data, "ab") == 0);
	buf_free(&out);
	CHECK(out.data == NULL && out.len == 0 && out.cap == 0);
	ws_frame(&out, WS_TEXT, "hi", 2);
	CHECK(out.len == 4 && memcmp(out.data, "\x81\x02hi", 4) == 0);
	buf_free(&out);

	ws_in_init(&w, WS_MSG_MAX);
	CHECK(w.msg.data == NULL);
	n = client_frame(b, 1, WS_TEXT, "one", 3);
	CHECK(ws_parse(&w, b, n, &used, &m) == WS_MSG && m.len == 3 &&
	    memcmp(m.data, "one", 3) == 0);
	CHECK(ws_parse(&w, b, 0, &used, &m) == WS_MORE && w.msg.data == NULL);
	n = client_frame(b, 1, WS_TEXT, "two", 3);
	CHECK(ws_parse(&w, b, n, &used, &m) == WS_MSG && m.len == 3 &&
	    memcmp(m.data, "two", 3) == 0);
	n = client_frame(b, 1, WS_TEXT, "", 0);
	CHECK(ws_parse(&w, b, n, &used, &m) == WS_MSG && m.op == WS_TEXT &&
	    m.len == 0 && m.data != NULL && m.data[0] == '\0');
	ws_in_free(&w);
	CHECK(w.msg.data == NULL);
}

int
main(void)
{
	test_accept_key();
	test_handshake();
	test_frames();
	test_encode();
	test_idle();
	return unit_done("test_ws");
}
