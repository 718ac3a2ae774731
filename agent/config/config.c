/* SPDX-License-Identifier: Apache-2.0 */
/* config.c: config_load() and friends: finding the files, reading them into
 * YAML documents, and handing out a complete set or nothing.
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

static int add_file(struct cfgp_loader *ld, const char *path)
{
	struct mesh_config *cfg = ld->cfg;
	char **files, *copy;

	copy = strdup(path);
	files = realloc(cfg->files, (size_t)(cfg->n_files + 1) * sizeof(*files));
	if (!copy || !files) {
		free(copy);
		if (files)
			cfg->files = files;
		ld->oom = true;
		return -ENOMEM;
	}
	cfg->files = files;
	files[cfg->n_files++] = copy;
	return 0;
}

static void io_error(struct cfgp_loader *ld, int file, const char *path, const char *what, int err)
{
	cfgp_err_raw(ld, file, "%s: %s: %s", path, what, strerror(err));
	if (!ld->io_err)
		ld->io_err = -err;
}

/* Hidden entries are skipped: a Kubernetes ConfigMap volume keeps its real
 * files in "..data" and editors keep their swap files there too. */
static void list_dir(struct cfgp_loader *ld, const char *dir)
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
		add_file(ld, path);
	}
	for (i = 0; i < n; i++)
		free(names[i]);
	free(names);
}

static char *read_file(struct cfgp_loader *ld, int file, size_t *len)
{
	const char *path = ld->cfg->files[file];
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
	struct cfgp_mark m = {.file = file, .line = 1, .column = 1};
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

static uint64_t expanded(struct expansion *x, int id, int depth)
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
		return CFGP_MAX_EXPANDED + 1;
	}
	x->memo[id - 1] = UINT64_MAX;
	if (n->type == YAML_SEQUENCE_NODE) {
		for (yaml_node_item_t *i = n->data.sequence.items.start;
		     i < n->data.sequence.items.top && total <= CFGP_MAX_EXPANDED; i++)
			total += expanded(x, *i, depth + 1);
	} else if (n->type == YAML_MAPPING_NODE) {
		for (yaml_node_pair_t *p = n->data.mapping.pairs.start;
		     p < n->data.mapping.pairs.top && total <= CFGP_MAX_EXPANDED; p++)
			total += expanded(x, p->key, depth + 1) + expanded(x, p->value, depth + 1);
	}
	x->memo[id - 1] = total;
	return total;
}

/* 0 when the document is small enough to walk, else an error was reported. */
static int check_expansion(struct cfgp_loader *ld, int file, yaml_document_t *doc,
			   yaml_node_t *root)
{
	size_t n = (size_t)(doc->nodes.top - doc->nodes.start);
	struct expansion x = {.doc = doc, .memo = calloc(n ? n : 1, sizeof(uint64_t))};
	struct cfgp_mark at = {.file = file,
			       .line = (int)root->start_mark.line + 1,
			       .column = (int)root->start_mark.column + 1};
	uint64_t total;

	if (!x.memo) {
		ld->oom = true;
		return -1;
	}
	total = expanded(&x, (int)(root - doc->nodes.start) + 1, 0);
	free(x.memo);
	if (x.too_deep)
		cfgp_err_at(ld, at, NULL, "document nests deeper than %d levels; refused",
			    CFGP_MAX_DEPTH);
	else if (total > CFGP_MAX_EXPANDED)
		cfgp_err_at(ld, at, NULL,
			    "document has %zu nodes but expands to more than %d through YAML "
			    "aliases; refused",
			    n, CFGP_MAX_EXPANDED);
	return x.too_deep || total > CFGP_MAX_EXPANDED ? -1 : 0;
}

static void load_file(struct cfgp_loader *ld, int file)
{
	struct cfgp_doc d = {.ld = ld, .file = file};
	yaml_document_t doc;
	yaml_parser_t parser;
	yaml_node_t *root;
	int n_docs = 0;
	bool failed = false;
	size_t len;
	char *buf;

	buf = read_file(ld, file, &len);
	if (!buf)
		return;
	if (!yaml_parser_initialize(&parser)) {
		ld->oom = true;
		free(buf);
		return;
	}
	yaml_parser_set_input_string(&parser, (const unsigned char *)buf, len);
	d.doc = &doc;
	while (!ld->oom) {
		if (!yaml_parser_load(&parser, &doc)) {
			yaml_error(ld, file, &parser, buf, len);
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
				cfgp_document(&d, root);
		}
		yaml_document_delete(&doc);
	}
	yaml_parser_delete(&parser);
	free(buf);
	if (!n_docs && !failed && !ld->oom)
		cfgp_err_at(ld, (struct cfgp_mark){.file = file, .line = 1, .column = 1}, NULL,
			    "file has no documents");
}

int config_load(const char *path, struct mesh_config **out, struct cfg_errors *errs)
{
	struct cfgp_loader ld = {0};
	struct stat st;
	int i, ret;

	*out = NULL;
	if (errs) {
		errs->msgs = NULL;
		errs->n = 0;
	}
	ld.cfg = calloc(1, sizeof(*ld.cfg));
	if (!ld.cfg)
		return -ENOMEM;

	if (stat(path, &st))
		io_error(&ld, -1, path, "cannot open", errno);
	else if (S_ISDIR(st.st_mode))
		list_dir(&ld, path);
	else if (strlen(path) >= CFG_PATH_MAX)
		io_error(&ld, -1, path, "cannot open", ENAMETOOLONG);
	else
		add_file(&ld, path);

	for (i = 0; i < ld.cfg->n_files && !ld.oom; i++)
		load_file(&ld, i);
	cfgp_resolve(&ld);

	ret = ld.oom ? -ENOMEM : ld.io_err ? ld.io_err : ld.n_errs ? -EINVAL : 0;
	cfgp_errors_finish(&ld, errs);
	free(ld.refs);
	free(ld.uses);
	free(ld.file_errs);
	free(ld.file_dropped);
	strmap_free(&ld.names);
	if (ret) {
		config_free(ld.cfg);
		return ret;
	}
	*out = ld.cfg;
	return 0;
}

void config_free(struct mesh_config *cfg)
{
	int i;

	if (!cfg)
		return;
	for (i = 0; i < cfg->n_services; i++) {
		free(cfg->services[i].addrs);
		free(cfg->services[i].ports);
		free(cfg->services[i].endpoints);
	}
	free(cfg->services);
	free(cfg->policies);
	for (i = 0; i < cfg->n_workloads; i++) {
		free(cfg->workloads[i].ports);
		free(cfg->workloads[i].interfaces);
	}
	free(cfg->workloads);
	for (i = 0; i < cfg->n_access; i++) {
		free(cfg->access[i].from);
		free(cfg->access[i].from_idx);
	}
	free(cfg->access);
	cfgp_telemetry_free(cfg->telemetry);
	for (i = 0; i < cfg->n_files; i++)
		free(cfg->files[i]);
	free(cfg->files);
	free(cfg);
}
