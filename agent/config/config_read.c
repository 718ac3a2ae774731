/* SPDX-License-Identifier: Apache-2.0 */
/* config_read.c: the sources: finding the files of a directory, reading them,
 * and parsing a source (file or in-memory text) into YAML documents, each
 * checked for what aliases and nesting could make a walk cost.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config/config_internal.h"

/* No real configuration comes near this; a larger file is a mistake (a log,
 * an image) and would only cost memory. */
#define MAX_FILE_SIZE (16 << 20)

static bool has_yaml_ext(const char *name)
{
	size_t len = strlen(name);

	return (len > 5 && !strcmp(name + len - 5, ".yaml")) ||
	       (len > 4 && !strcmp(name + len - 4, ".yml"));
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static void io_error(struct cfgp_loader *ld, int file, const char *path, const char *what, int err)
{
	cfgp_err_raw(ld, file, "%s: %s: %s", path, what, strerror(err));
	if (!ld->io_err)
		ld->io_err = -err;
}

/* Hidden entries are skipped: a Kubernetes ConfigMap volume keeps its real
 * files in "..data" and editors keep their swap files there too. */
void cfgp_list_dir(struct cfgp_loader *ld, const char *dir)
{
	struct dirent *de;
	struct stat st;
	char **names = NULL, **tmp, path[CFG_PATH_MAX];
	size_t n = 0, i;
	bool slash = dir[0] && dir[strlen(dir) - 1] == '/';
	DIR *d;

	d = opendir(dir);
	if (!d) {
		io_error(ld, -1, dir, "cannot open", errno);
		return;
	}
	while ((de = readdir(d))) {
		if (de->d_name[0] == '.' || !has_yaml_ext(de->d_name))
			continue;
		tmp = realloc(names, (n + 1) * sizeof(*names));
		if (!tmp) {
			ld->oom = true;
			break;
		}
		names = tmp;
		if (!(names[n] = strdup(de->d_name))) {
			ld->oom = true;
			break;
		}
		n++;
	}
	closedir(d);
	if (n)
		qsort(names, n, sizeof(*names), cmp_str);

	for (i = 0; i < n && !ld->oom; i++) {
		if ((size_t)snprintf(path, sizeof(path), "%s%s%s", dir, slash ? "" : "/",
				     names[i]) >= sizeof(path)) {
			io_error(ld, -1, names[i], "cannot open", ENAMETOOLONG);
			continue;
		}
		/* stat, not lstat: ConfigMap entries are symlinks to the real files. */
		if (!stat(path, &st) && !S_ISREG(st.st_mode))
			continue;
		cfgp_add_file(ld, path);
	}
	for (i = 0; i < n; i++)
		free(names[i]);
	free(names);
}

static char *read_file(struct cfgp_loader *ld, int file, size_t *len)
{
	const char *path = cfgp_src_name(ld, file);
	struct stat st;
	char *buf = NULL;
	size_t got = 0;
	ssize_t r;
	int fd;

	/* non-blocking: a FIFO or a device must not hang the agent or
	 * `bpfmesh validate`; it is refused below */
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
	if (fd < 0) {
		io_error(ld, file, path, "cannot open", errno);
		return NULL;
	}
	if (fstat(fd, &st)) {
		io_error(ld, file, path, "cannot read", errno);
		goto fail;
	}
	if (!S_ISREG(st.st_mode)) {
		cfgp_err_raw(ld, file, "%s: not a regular file", path);
		if (!ld->io_err)
			ld->io_err = -EINVAL;
		goto fail;
	}
	if (st.st_size > MAX_FILE_SIZE) {
		io_error(ld, file, path, "cannot read", EFBIG);
		goto fail;
	}
	buf = malloc((size_t)st.st_size + 1);
	if (!buf) {
		ld->oom = true;
		goto fail;
	}
	/* Read to the end rather than trust st_size: the file may be growing. */
	while (got < (size_t)st.st_size) {
		r = read(fd, buf + got, (size_t)st.st_size - got);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			io_error(ld, file, path, "cannot read", errno);
			goto fail;
		}
		if (!r)
			break;
		got += (size_t)r;
	}
	close(fd);
	buf[got] = '\0';
	*len = got;
	return buf;
fail:
	free(buf);
	close(fd);
	return NULL;
}

/* libyaml's reader errors carry a byte offset instead of a line and column. */
static struct cfgp_mark offset_mark(int file, const char *buf, size_t len, size_t off)
{
	struct cfgp_mark m = {.file = file, .obj = -1, .line = 1, .column = 1};
	size_t i;

	for (i = 0; i < off && i < len; i++) {
		if (buf[i] == '\n') {
			m.line++;
			m.column = 1;
		} else {
			m.column++;
		}
	}
	return m;
}

static void yaml_error(struct cfgp_loader *ld, int file, const yaml_parser_t *p, const char *buf,
		       size_t len)
{
	struct cfgp_mark at;

	if (p->error == YAML_MEMORY_ERROR) {
		ld->oom = true;
		return;
	}
	if (p->error == YAML_READER_ERROR)
		at = offset_mark(file, buf, len, p->problem_offset);
	else
		at = (struct cfgp_mark){
		    .file = file,
		    .obj = -1,
		    .line = (int)p->problem_mark.line + 1,
		    .column = (int)p->problem_mark.column + 1,
		};
	cfgp_err_at(ld, at, NULL, "invalid YAML: %s%s%s", p->problem ? p->problem : "error",
		    p->context ? " " : "", p->context ? p->context : "");
}

/* How many nodes a walk of n visits, aliases followed: libyaml shares an
 * aliased node, but every walk of the document visits it again for each
 * alias, so nine aliases of nine aliases of ... expand exponentially (the
 * "billion laughs"). Memoised per node, so this costs one pass. Nesting
 * deeper than any schema (CFGP_MAX_DEPTH) is refused before the recursion
 * could run out of stack. */
#define CFGP_MAX_DEPTH 64

struct expansion {
	yaml_document_t *doc;
	uint64_t *memo;
	bool too_deep;
};

static uint64_t expanded(struct expansion *x, int id, int depth, uint64_t limit)
{
	yaml_node_t *n = yaml_document_get_node(x->doc, id);
	uint64_t total = 1;

	if (!n)
		return 1;
	/* UINT64_MAX: on the path being summed, an alias to its own
	 * ancestor; the schema walk meets such a node once and reports a
	 * type error there, so it counts once here */
	if (x->memo[id - 1])
		return x->memo[id - 1] == UINT64_MAX ? 1 : x->memo[id - 1];
	if (depth > CFGP_MAX_DEPTH) {
		x->too_deep = true;
		return limit + 1;
	}
	x->memo[id - 1] = UINT64_MAX;
	if (n->type == YAML_SEQUENCE_NODE) {
		for (yaml_node_item_t *i = n->data.sequence.items.start;
		     i < n->data.sequence.items.top && total <= limit; i++)
			total += expanded(x, *i, depth + 1, limit);
	} else if (n->type == YAML_MAPPING_NODE) {
		for (yaml_node_pair_t *p = n->data.mapping.pairs.start;
		     p < n->data.mapping.pairs.top && total <= limit; p++)
			total += expanded(x, p->key, depth + 1, limit) +
				 expanded(x, p->value, depth + 1, limit);
	}
	x->memo[id - 1] = total;
	return total;
}

/* 0 when the document is small enough to walk, else an error was reported.
 * Without aliases a walk visits each node once, which the source's size
 * bounds (a kubectl List of many objects is large, not costly); aliases may
 * add CFGP_MAX_EXPANDED visits. */
static int check_expansion(struct cfgp_loader *ld, int file, yaml_document_t *doc,
			   yaml_node_t *root)
{
	size_t n = (size_t)(doc->nodes.top - doc->nodes.start);
	struct expansion x = {.doc = doc, .memo = calloc(n ? n : 1, sizeof(uint64_t))};
	struct cfgp_mark at = {.file = file,
			       .obj = -1,
			       .line = (int)root->start_mark.line + 1,
			       .column = (int)root->start_mark.column + 1};
	uint64_t total, limit = (uint64_t)n + CFGP_MAX_EXPANDED;

	if (!x.memo) {
		ld->oom = true;
		return -1;
	}
	total = expanded(&x, (int)(root - doc->nodes.start) + 1, 0, limit);
	free(x.memo);
	if (x.too_deep)
		cfgp_err_at(ld, at, NULL, "document nests deeper than %d levels; refused",
			    CFGP_MAX_DEPTH);
	else if (total > limit)
		cfgp_err_at(ld, at, NULL,
			    "document has %zu nodes but expands to more than %d through YAML "
			    "aliases; refused",
			    n, CFGP_MAX_EXPANDED);
	return x.too_deep || total > limit ? -1 : 0;
}

void cfgp_read_source(struct cfgp_loader *ld, int file)
{
	struct cfgp_src *src = &ld->run->srcs[file];
	struct cfgp_doc d = {.ld = ld, .file = file, .obj = -1};
	struct cfgp_cache_mark before;
	yaml_document_t doc;
	yaml_parser_t parser;
	yaml_node_t *root;
	int n_docs = 0, k;
	bool failed = false;

	if (!src->memory && !src->read) {
		src->text = read_file(ld, file, &src->len);
		if (!src->text)
			return;
		src->read = true;
	}
	if (src->memory && ld->run->cache) {
		if (cfgp_cache_replay(ld, file))
			return;
		cfgp_cache_mark(ld, &before);
	}
	if (!yaml_parser_initialize(&parser)) {
		ld->oom = true;
		return;
	}
	yaml_parser_set_input_string(&parser, (const unsigned char *)src->text, src->len);
	d.doc = &doc;
	for (k = 0; !ld->oom; k++) {
		if (!yaml_parser_load(&parser, &doc)) {
			yaml_error(ld, file, &parser, src->text, src->len);
			failed = true;
			break;
		}
		root = yaml_document_get_root_node(&doc);
		if (!root) {
			yaml_document_delete(&doc);
			break;
		}
		/* An empty document (a stray "---") is skipped, as kubectl does. */
		if (!cfgp_is_null(root)) {
			n_docs++;
			if (!check_expansion(ld, file, &doc, root))
				cfgp_document(&d, root, k);
		}
		yaml_document_delete(&doc);
	}
	yaml_parser_delete(&parser);
	if (!n_docs && !failed && !ld->oom)
		cfgp_err_at(ld, (struct cfgp_mark){.file = file, .obj = -1, .line = 1, .column = 1},
			    NULL,
			    src->memory ? "source has no documents" : "file has no documents");
	else if (src->memory && ld->run->cache)
		cfgp_cache_store(ld, file, &before);
}
