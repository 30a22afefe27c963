/*
 * tmpl.c — HTML templates with mandatory escaping.
 *
 * A template is text with {{name}} placeholders.  Every substituted value is
 * HTML-escaped (& < > " ' all become entities, so a value is safe in element
 * text and in quoted attributes alike); there is deliberately no raw form.
 * An unknown name renders as nothing, and a lone "{{" is copied as it is.
 */
#include <string.h>

#include "noom.h"

/* Append s to b with the five HTML-special characters escaped. */
void
html_escape(struct buf *b, const char *s)
{
	const char	*run = s;

	for (; *s != '\0'; s++) {
		const char *ent = NULL;

		switch (*s) {
		case '&': ent = "&amp;"; break;
		case '<': ent = "&lt;"; break;
		case '>': ent = "&gt;"; break;
		case '"': ent = "&quot;"; break;
		case '\'': ent = "&#39;"; break;
		default: continue;
		}
		buf_add(b, run, s - run);
		buf_adds(b, ent);
		run = s + 1;
	}
	buf_add(b, run, s - run);
}

/* Render src with vars; the caller frees the result. */
char *
tmpl_render_new(const char *src, const struct tmpl_var *vars, size_t nvars)
{
	struct buf	 b;
	const char	*open, *close;
	size_t		 i, n;

	buf_init(&b);
	while ((open = strstr(src, "{{")) != NULL &&
	    (close = strstr(open + 2, "}}")) != NULL) {
		buf_add(&b, src, open - src);
		n = close - (open + 2);
		for (i = 0; i < nvars; i++) {
			if (strlen(vars[i].name) == n &&
			    strncmp(vars[i].name, open + 2, n) == 0) {
				html_escape(&b, vars[i].value);
				break;
			}
		}
		src = close + 2;
	}
	buf_adds(&b, src);
	return buf_steal(&b);
}
