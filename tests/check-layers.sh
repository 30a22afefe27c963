#!/bin/sh
# check-layers.sh OBJDIR: the C files of Noom call each other in no circle. Reads the symbols
# of OBJDIR/*.o with nm: file A calls file B when A uses a global symbol B defines, and reaches
# C when it calls a file that reaches C. Prints a line per pair that reach each other
# ("a.o <-> b.o") and exits 1 if there is any. Called by check-conf.sh, which also checks that
# noom-ws links no libfcgi.

objdir=$1
cd "$objdir" || exit 2
# shellcheck disable=SC2046 # the object files, one word each
nm -A $(ls ./*.o) 2>/dev/null | awk '
	{
		split($1, p, ":"); f = p[1]; sub(/^\.\//, "", f)
		if (NF == 3 && $2 ~ /^[TDBRC]$/) def[$3] = f
		else if ($(NF - 1) == "U") use[f, $NF] = 1
		files[f] = 1
	}
	END {
		for (k in use) {
			split(k, q, SUBSEP)
			if ((q[2] in def) && def[q[2]] != q[1]) reach[q[1], def[q[2]]] = 1
		}
		for (m in files) for (a in files) if ((a, m) in reach)
			for (b in files) if ((m, b) in reach) reach[a, b] = 1
		bad = 0
		for (a in files) for (b in files)
			if (a < b && ((a, b) in reach) && ((b, a) in reach)) {
				print a " <-> " b; bad = 1
			}
		exit bad
	}'
