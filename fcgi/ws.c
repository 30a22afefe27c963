/*
 * ws.c — the WebSocket protocol (RFC 6455) as pure functions: the opening
 * handshake, the frame parser and the frame encoder.  No I/O and no clock:
 * gateway.c feeds bytes in and writes bytes out, and tests/unit/test_ws.c
 * drives everything here without a socket.
 *
 * Handshake (ws_handshake): a GET with "Upgrade: websocket", a Connection
 * header naming "upgrade", "Sec-WebSocket-Version: 13" and a
 * Sec-WebSocket-Key that is base64 of 16 bytes.  The answer's
 * Sec-WebSocket-Accept is base64(SHA-1(key + the RFC's GUID)), from
 * libcrypto.  Anything else gets a plain HTTP error (426 with
 * "Sec-WebSocket-Version: 13" for another version) and the connection ends.
 * The request head is bounded by WS_HEAD_MAX.
 *
 * Frames (ws_parse) are taken whole: the caller keeps at most one frame
 * header plus WS_MSG_MAX bytes of input, because a frame that announces more
 * is refused from its header alone.  The parser enforces what a server must:
 *
 *   client frames are masked, RSV bits are 0, the opcode is known   -> 1002
 *   control frames are final and carry at most 125 bytes            -> 1002
 *   continuation only inside a fragmented message, and no new data
 *   frame inside one                                                 -> 1002
 *   a message (all its fragments) of more than WS_MSG_MAX bytes      -> 1009
 *   a text message or a close reason that is not UTF-8               -> 1007
 *   a close frame with a 1-byte body or a code nobody may send       -> 1002
 *
 * Data fragments are assembled into ws_in.msg (so a message costs at most
 * WS_MSG_MAX bytes however it is cut); control frames may arrive between
 * fragments and are delivered at once.  UTF-8 is checked on the whole
 * message, so a code point split across fragments is fine.
 *
 * Server frames are never masked and never fragmented (ws_frame).
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/evp.h>

#include "noom.h"

#define WS_GUID		"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

void
ws_in_init(struct ws_in *w, size_t max)
{
	memset(w, 0, sizeof(*w));	/* msg holds nothing till a frame */
	w->max = max;
}

void
ws_in_free(struct ws_in *w)
{
	buf_free(&w->msg);
}

/*
 * The Sec-WebSocket-Accept value for key, in out (29 bytes with the NUL).
 * 0, or -1 if key is not base64 of 16 bytes (24 characters, "==" at the end).
 */
int
ws_accept_key(const char *key, char out[29])
{
	static const char	 b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
	    "abcdefghijklmnopqrstuvwxyz0123456789+/";
	unsigned char		 md[EVP_MAX_MD_SIZE];
	unsigned int		 mdlen = 0;
	char			 in[24 + sizeof(WS_GUID)];

	if (strlen(key) != 24 || strspn(key, b64) != 22 ||
	    strcmp(key + 22, "==") != 0)
		return -1;
	memcpy(in, key, 24);
	memcpy(in + 24, WS_GUID, sizeof(WS_GUID));
	if (EVP_Digest(in, strlen(in), md, &mdlen, EVP_sha1(), NULL) != 1 ||
	    mdlen != 20)
		return -1;
	EVP_EncodeBlock((unsigned char *)out, md, (int)mdlen);
	return 0;
}

/* Does the comma-separated header value v hold token (any case)? */
static int
has_token(const char *v, size_t n, const char *token)
{
	size_t	 tl = strlen(token), i = 0, s, e;

	while (i < n) {
		while (i < n && (v[i] == ' ' || v[i] == '\t' || v[i] == ','))
			i++;
		s = i;
		while (i < n && v[i] != ',')
			i++;
		e = i;
		while (e > s && (v[e - 1] == ' ' || v[e - 1] == '\t'))
			e--;
		if (e - s == tl && strncasecmp(v + s, token, tl) == 0)
			return 1;
	}
	return 0;
}

static void
http_error(struct buf *out, int status, const char *text, const char *extra)
{
	char	 body[128];
	int	 n;

	n = snprintf(body, sizeof(body), "{\"error\":\"websocket\","
	    "\"message\":\"%s\"}\n", text);
	buf_printf(out, "HTTP/1.1 %d %s\r\nContent-Type: application/json; "
	    "charset=utf-8\r\nContent-Length: %d\r\nCache-Control: no-store\r\n"
	    "Connection: close\r\n%s\r\n%s", status,
	    status == 426 ? "Upgrade Required" :
	    status == 405 ? "Method Not Allowed" :
	    status == 431 ? "Request Header Fields Too Large" : "Bad Request",
	    n, extra, body);
}

/*
 * The next header line of a request head, from *line up to blank, where
 * the empty line that ends the head starts (every line before it ends in
 * CRLF).  1 with f filled and *line moved past it, 0 at the end.  Lines
 * without a colon are skipped; the value is trimmed of spaces and tabs.
 * The WebSocket handshake and the event stream read their headers here.
 */
int
head_field_next(const char **line, const char *blank, struct head_field *f)
{
	const char	*eol, *colon, *v;

	for (; *line < blank; *line = eol + 2) {
		eol = memmem(*line, (size_t)(blank + 2 - *line), "\r\n", 2);
		if ((colon = memchr(*line, ':', (size_t)(eol - *line))) == NULL)
			continue;
		for (v = colon + 1; v < eol && (*v == ' ' || *v == '\t'); v++)
			;
		f->name = *line;
		f->nlen = (size_t)(colon - *line);
		f->v = v;
		f->vlen = (size_t)(eol - v);
		while (f->vlen > 0 && (v[f->vlen - 1] == ' ' ||
		    v[f->vlen - 1] == '\t'))
			f->vlen--;
		*line = eol + 2;
		return 1;
	}
	return 0;
}

/* Is f the header called name (any case)? */
int
head_field_is(const struct head_field *f, const char *name)
{
	return f->nlen == strlen(name) &&
	    strncasecmp(f->name, name, f->nlen) == 0;
}

/*
 * Parse the opening handshake in buf[0..len).  Returns 0 while the head is
 * incomplete, its length once it is a valid upgrade (the 101 answer appended
 * to out), or -1 with an HTTP error appended to out and *errstr saying why.
 */
int
ws_handshake(const char *buf, size_t len, struct buf *out, const char **errstr)
{
	const char	*end, *line, *eol;
	struct head_field f;
	char		 key[64] = "", accept[29];
	int		 upgrade = 0, connection = 0, version = 0, head;

	end = memmem(buf, len, "\r\n\r\n", 4);
	if (end == NULL) {
		if (len < WS_HEAD_MAX)
			return 0;
		*errstr = "request head too large";
		http_error(out, 431, "The request head is too large.", "");
		return -1;
	}
	head = (int)(end - buf) + 4;
	if (end - buf >= WS_HEAD_MAX) {
		*errstr = "request head too large";
		http_error(out, 431, "The request head is too large.", "");
		return -1;
	}
	if (len < 4 || memcmp(buf, "GET ", 4) != 0) {
		*errstr = "not a GET";
		http_error(out, 405, "A WebSocket starts with GET.",
		    "Allow: GET\r\n");
		return -1;
	}
	eol = memmem(buf, (size_t)(end - buf) + 2, "\r\n", 2);
	if (eol == NULL || eol - buf < 13 || memcmp(eol - 9, " HTTP/1.1", 9)) {
		*errstr = "not HTTP/1.1";
		http_error(out, 400, "HTTP/1.1 is needed.", "");
		return -1;
	}
	for (line = eol + 2; head_field_next(&line, end + 2, &f);) {
		if (head_field_is(&f, "Upgrade"))
			upgrade |= has_token(f.v, f.vlen, "websocket");
		else if (head_field_is(&f, "Connection"))
			connection |= has_token(f.v, f.vlen, "upgrade");
		else if (head_field_is(&f, "Sec-WebSocket-Version"))
			version = f.vlen == 2 && memcmp(f.v, "13", 2) == 0 ?
			    13 : -1;
		else if (head_field_is(&f, "Sec-WebSocket-Key") &&
		    f.vlen < sizeof(key)) {
			memcpy(key, f.v, f.vlen);
			key[f.vlen] = '\0';
		}
	}
	if (!upgrade || !connection) {
		*errstr = "no upgrade to websocket";
		http_error(out, 426, "This endpoint speaks WebSocket only.",
		    "Upgrade: websocket\r\n");
		return -1;
	}
	if (version != 13) {
		*errstr = "unsupported version";
		http_error(out, 426, "Only WebSocket version 13 is spoken.",
		    "Sec-WebSocket-Version: 13\r\n");
		return -1;
	}
	if (ws_accept_key(key, accept) == -1) {
		*errstr = "bad Sec-WebSocket-Key";
		http_error(out, 400, "Sec-WebSocket-Key is not base64 of "
		    "16 bytes.", "");
		return -1;
	}
	buf_printf(out, "HTTP/1.1 101 Switching Protocols\r\n"
	    "Upgrade: websocket\r\nConnection: Upgrade\r\n"
	    "Sec-WebSocket-Accept: %s\r\n\r\n", accept);
	return head;
}

/* May a peer send this close code (RFC 6455 7.4, and 3000-4999)? */
static int
close_code_valid(int code)
{
	if (code >= 3000 && code <= 4999)
		return 1;
	switch (code) {
	case 1000: case 1001: case 1002: case 1003: case 1007: case 1008:
	case 1009: case 1010: case 1011: case 1012: case 1013: case 1014:
		return 1;
	}
	return 0;
}

static int
fail(struct ws_msg *m, int code, const char *reason)
{
	m->code = code;
	m->reason = reason;
	return WS_FAIL;
}

/*
 * Parse the next frame in in[0..len) (unmasked in place).  Returns WS_MORE
 * when in holds no whole frame yet (*used = 0), WS_FRAME when a frame was
 * taken that completes nothing, WS_MSG with *m describing a message or a
 * control frame (its data valid until the next call), or WS_FAIL with
 * m->code and m->reason: the close code to send, after which nothing more
 * should be parsed.  *used is the number of bytes taken.
 */
int
ws_parse(struct ws_in *w, unsigned char *in, size_t len, size_t *used,
    struct ws_msg *m)
{
	uint64_t	 plen;
	size_t		 hlen = 2, i;
	unsigned char	*mask, *p;
	int		 fin, op;

	*used = 0;
	memset(m, 0, sizeof(*m));
	if (w->delivered) {		/* the last message was handed out */
		buf_free(&w->msg);	/* an idle connection holds none */
		w->op = 0;
		w->delivered = 0;
	}
	if (len < 2)
		return WS_MORE;
	fin = in[0] & 0x80;
	op = in[0] & 0x0f;
	if (in[0] & 0x70)
		return fail(m, 1002, "reserved bits set");
	if (!(in[1] & 0x80))
		return fail(m, 1002, "client frames must be masked");
	switch (op) {
	case WS_CONT: case WS_TEXT: case WS_BINARY:
	case WS_CLOSE: case WS_PING: case WS_PONG:
		break;
	default:
		return fail(m, 1002, "unknown opcode");
	}
	plen = in[1] & 0x7f;
	if (plen == 126) {
		hlen = 4;
		if (len < hlen)
			return WS_MORE;
		plen = (uint64_t)in[2] << 8 | in[3];
	} else if (plen == 127) {
		hlen = 10;
		if (len < hlen)
			return WS_MORE;
		if (in[2] & 0x80)
			return fail(m, 1002, "length with the top bit set");
		for (plen = 0, i = 2; i < 10; i++)
			plen = plen << 8 | in[i];
	}
	if (op >= WS_CLOSE) {
		if (!fin)
			return fail(m, 1002, "fragmented control frame");
		if (plen > 125)
			return fail(m, 1002, "control frame over 125 bytes");
	} else {
		if (op == WS_CONT && w->op == 0)
			return fail(m, 1002, "continuation without a start");
		if (op != WS_CONT && w->op != 0)
			return fail(m, 1002, "new message inside a fragmented "
			    "one");
		/* Refused from the header: nobody buffers an oversize frame. */
		if (plen > w->max || w->msg.len + plen > w->max)
			return fail(m, 1009, "message too big");
	}
	hlen += 4;
	if (len < hlen || len - hlen < plen)
		return WS_MORE;
	mask = in + hlen - 4;
	p = in + hlen;
	for (i = 0; i < plen; i++)
		p[i] ^= mask[i & 3];
	*used = hlen + (size_t)plen;

	if (op >= WS_CLOSE) {
		m->op = op;
		m->data = (const char *)p;
		m->len = (size_t)plen;
		if (op == WS_CLOSE) {
			if (plen == 1)
				return fail(m, 1002, "close body of one byte");
			m->code = 1005;		/* none given */
			if (plen >= 2) {
				m->code = p[0] << 8 | p[1];
				if (!close_code_valid(m->code))
					return fail(m, 1002, "bad close code");
				if (utf8_count((const char *)p + 2,
				    (size_t)plen - 2) == -1)
					return fail(m, 1007, "close reason is "
					    "not UTF-8");
			}
		}
		return WS_MSG;
	}
	if (op != WS_CONT)
		w->op = op;
	buf_add(&w->msg, (const char *)p, (size_t)plen);
	if (!fin)
		return WS_FRAME;
	if (w->op == WS_TEXT && utf8_count(w->msg.data, w->msg.len) == -1)
		return fail(m, 1007, "text is not UTF-8");
	m->op = w->op;
	m->data = w->msg.data;
	m->len = w->msg.len;
	w->delivered = 1;
	return WS_MSG;
}

/* Append one unmasked, final server frame of op with data to out. */
void
ws_frame(struct buf *out, int op, const void *data, size_t len)
{
	unsigned char	 h[10];
	size_t		 hlen = 2;
	int		 i;

	h[0] = 0x80 | (op & 0x0f);
	if (len < 126)
		h[1] = (unsigned char)len;
	else if (len <= 0xffff) {
		h[1] = 126;
		h[2] = (unsigned char)(len >> 8);
		h[3] = (unsigned char)len;
		hlen = 4;
	} else {
		h[1] = 127;
		for (i = 0; i < 8; i++)
			h[2 + i] = (unsigned char)((uint64_t)len >> (56 - 8 * i));
		hlen = 10;
	}
	buf_add(out, (const char *)h, hlen);
	buf_add(out, data, len);
}

/* Append a close frame with code and reason (at most 123 bytes kept). */
void
ws_close_frame(struct buf *out, int code, const char *reason)
{
	char	 b[125];
	size_t	 n = strlen(reason);

	if (n > sizeof(b) - 2)
		n = sizeof(b) - 2;
	b[0] = (char)(code >> 8);
	b[1] = (char)(code & 0xff);
	memcpy(b + 2, reason, n);
	ws_frame(out, WS_CLOSE, b, n + 2);
}
