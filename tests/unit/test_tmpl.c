/* Unit tests of tmpl.c: substitution always escapes. */
#include <stdlib.h>

#include "../../fcgi/noom.h"
#include "unit.h"

static void
check_render(const char *src, const char *room, const char *want)
{
	struct tmpl_var	 vars[] = { { "prefix", "/noom" }, { "room", room } };
	char		*out = tmpl_render_new(src, vars, 2);

	CHECK_STR(out, want);
	free(out);
}

int
main(void)
{
	struct buf	 b;

	check_render("<base href=\"{{prefix}}/\">", "", "<base href=\"/noom/\">");
	check_render("<h1>{{room}}</h1>", "<script>alert(1)</script>",
	    "<h1>&lt;script&gt;alert(1)&lt;/script&gt;</h1>");
	check_render("<b data-room=\"{{room}}\">", "\" onload='x' &",
	    "<b data-room=\"&quot; onload=&#39;x&#39; &amp;\">");
	check_render("{{unknown}}!", "r", "!");
	check_render("a {{ b", "r", "a {{ b");
	check_render("{{room}}{{room}}", "x", "xx");
	check_render("no placeholders", "x", "no placeholders");

	buf_init(&b);
	html_escape(&b, "plain & <simple>");
	CHECK_STR(b.data, "plain &amp; &lt;simple&gt;");
	buf_free(&b);
	return unit_done("test_tmpl");
}
