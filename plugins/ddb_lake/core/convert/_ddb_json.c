/*
 * ddb_lake.core.convert._ddb_json: JSON lines -> Arrow buffers, the parse step of the converter in native code.
 *
 * One call parses a chunk of complete JSON lines (one object per line, as DynamoDB's export writes them) into the
 * same column tree pyarrow's JSON reader infers when every string stays a string: objects become structs (fields
 * in first-seen order), arrays lists, strings strings (UTF-8 checked, escapes decoded), true/false booleans, a
 * field never given a value the null type, missing fields nulls. The result is a tree of tuples holding Arrow
 * buffers (validity bitmaps, int32 offsets, data), which fast_json.py wraps as Arrow arrays without copying.
 *
 * It does not guess: anything outside that subset (bare numbers, a field that changes its JSON type, a newline
 * inside an object, invalid UTF-8, lone surrogates, deep nesting, duplicate keys, more than 2 GiB in one column)
 * gives ("unsupported", reason, byte offset) and the caller parses the chunk with pyarrow's reader instead, whose
 * result (or error) is then the answer. Nothing here holds the GIL while parsing.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#ifdef __SSE2__
#include <emmintrin.h>
#endif

#define MAX_DEPTH 64
#define MAX_COLUMN_BYTES 0x7fffffffLL
#define HASH_FROM 16 /* structs with more fields look keys up by hash */

enum kind { K_NULL, K_BOOL, K_STRING, K_LIST, K_STRUCT };

typedef struct {
    unsigned char *p;
    size_t len, cap;
} buf_t;

typedef struct node {
    enum kind kind;
    int64_t length, null_count;
    buf_t validity; /* bitmap: a set bit is a valid value */
    buf_t offsets;  /* int32: strings, lists */
    buf_t data;     /* string bytes; boolean bits */
    struct node *item; /* list */
    /* struct */
    int nfields, capfields, guess;
    char **names;
    size_t *name_lens;
    struct node **children;
    int32_t *htab; /* index + 1, open addressing */
    int hcap;
} node_t;

typedef struct {
    const unsigned char *s, *start, *end;
    const char *reason;
    buf_t key;
    int depth;
} parser_t;

static unsigned char special[256]; /* '"', '\\', control characters and non-ASCII bytes stop the string scan */

/* Room for ``extra`` more bytes. Bitmaps (``zero``) get their new capacity cleared: their bits start unset. */
static __attribute__((noinline)) int grow_to(buf_t *b, size_t need, int zero) {
    size_t cap = b->cap ? b->cap : 64;
    while (cap < need) cap *= 2;
    unsigned char *p = realloc(b->p, cap);
    if (!p) return -1;
    if (zero) memset(p + b->cap, 0, cap - b->cap);
    b->p = p;
    b->cap = cap;
    return 0;
}

static inline int grow(buf_t *b, size_t extra) {
    return b->len + extra <= b->cap ? 0 : grow_to(b, b->len + extra, 0);
}

static inline int put(buf_t *b, const void *src, size_t n) {
    if (!n) return 0;
    if (grow(b, n)) return -1;
    memcpy(b->p + b->len, src, n);
    b->len += n;
    return 0;
}

static node_t *node_new(void) { return calloc(1, sizeof(node_t)); }

static void node_free(node_t *n) {
    if (!n) return;
    free(n->validity.p);
    free(n->offsets.p);
    free(n->data.p);
    node_free(n->item);
    for (int i = 0; i < n->nfields; i++) {
        free(n->names[i]);
        node_free(n->children[i]);
    }
    free(n->names);
    free(n->name_lens);
    free(n->children);
    free(n->htab);
    free(n);
}

static int fail(parser_t *p, const char *reason) {
    if (!p->reason) p->reason = reason;
    return -1;
}

/* Make room for the validity bit of element ``n->length`` (bits beyond len are zero). */
static inline int bit_room(buf_t *b, int64_t index) {
    size_t need = (size_t)(index / 8 + 1);
    if (need > b->len) {
        if (need > b->cap && grow_to(b, need, 1)) return -1;
        b->len = need;
    }
    return 0;
}

static int push_offset(parser_t *p, node_t *n, int64_t value) {
    if (value > MAX_COLUMN_BYTES) return fail(p, "a column holds more than 2 GiB");
    int32_t v = (int32_t)value;
    return put(&n->offsets, &v, sizeof v);
}

static int32_t last_offset(node_t *n) {
    int32_t v;
    memcpy(&v, n->offsets.p + n->offsets.len - sizeof v, sizeof v);
    return v;
}

/* Append ``count`` nulls (structs pad their children lazily: catch_up before a child's next value, and at the end). */
static int append_nulls(parser_t *p, node_t *n, int64_t count) {
    if (count <= 0) return 0;
    if (n->kind != K_NULL) {
        if (bit_room(&n->validity, n->length + count - 1)) return fail(p, "out of memory");
        if (n->kind == K_STRING || n->kind == K_LIST) {
            int32_t last = last_offset(n);
            for (int64_t i = 0; i < count; i++)
                if (put(&n->offsets, &last, sizeof last)) return fail(p, "out of memory");
        } else if (n->kind == K_BOOL) {
            if (bit_room(&n->data, n->length + count - 1)) return fail(p, "out of memory");
        }
    }
    n->length += count;
    n->null_count += count;
    return 0;
}

static inline int catch_up(parser_t *p, node_t *n, int64_t target) {
    return n->length < target ? append_nulls(p, n, target - n->length) : 0;
}

/* Give a null-typed node its first JSON type (its earlier elements stay nulls); refuse a change of type. */
static __attribute__((noinline)) int first_kind(parser_t *p, node_t *n, enum kind kind) {
    if (n->kind != K_NULL) return fail(p, "a field changes its JSON type");
    n->kind = kind;
    if (bit_room(&n->validity, n->length ? n->length - 1 : 0)) return fail(p, "out of memory");
    if (kind == K_STRING || kind == K_LIST) {
        int32_t zero = 0;
        for (int64_t i = 0; i <= n->length; i++)
            if (put(&n->offsets, &zero, sizeof zero)) return fail(p, "out of memory");
    }
    if (kind == K_BOOL && bit_room(&n->data, n->length ? n->length - 1 : 0)) return fail(p, "out of memory");
    if (kind == K_LIST && !(n->item = node_new())) return fail(p, "out of memory");
    return 0;
}

static inline int set_kind(parser_t *p, node_t *n, enum kind kind) {
    return n->kind == kind ? 0 : first_kind(p, n, kind);
}

static inline int mark_valid(parser_t *p, node_t *n) {
    if (bit_room(&n->validity, n->length)) return fail(p, "out of memory");
    n->validity.p[n->length / 8] |= (unsigned char)(1u << (n->length % 8));
    n->length++;
    return 0;
}

static inline void skip_space(parser_t *p) {
    const unsigned char *s = p->s;
    if (s < p->end && *s > ' ') return; /* the usual case: no whitespace at all */
    while (s < p->end && (*s == ' ' || *s == '\t' || *s == '\r')) s++;
    p->s = s;
}

static int expect_word(parser_t *p, const char *word, size_t n) {
    if ((size_t)(p->end - p->s) < n || memcmp(p->s, word, n) != 0) return fail(p, "invalid JSON literal");
    p->s += n;
    return 0;
}

static int hex4(const unsigned char *s, unsigned *out) {
    unsigned v = 0;
    for (int i = 0; i < 4; i++) {
        unsigned c = s[i];
        v <<= 4;
        if (c >= '0' && c <= '9') v |= c - '0';
        else if (c >= 'a' && c <= 'f') v |= c - 'a' + 10;
        else if (c >= 'A' && c <= 'F') v |= c - 'A' + 10;
        else return -1;
    }
    *out = v;
    return 0;
}

static int put_utf8(buf_t *b, unsigned cp) {
    unsigned char u[4];
    size_t n;
    if (cp < 0x80) { u[0] = (unsigned char)cp; n = 1; }
    else if (cp < 0x800) { u[0] = 0xC0 | (cp >> 6); u[1] = 0x80 | (cp & 0x3F); n = 2; }
    else if (cp < 0x10000) { u[0] = 0xE0 | (cp >> 12); u[1] = 0x80 | ((cp >> 6) & 0x3F); u[2] = 0x80 | (cp & 0x3F); n = 3; }
    else { u[0] = 0xF0 | (cp >> 18); u[1] = 0x80 | ((cp >> 12) & 0x3F); u[2] = 0x80 | ((cp >> 6) & 0x3F);
           u[3] = 0x80 | (cp & 0x3F); n = 4; }
    return put(b, u, n);
}

/* Length of the valid UTF-8 sequence at s (0 if invalid). */
static int utf8_len(const unsigned char *s, const unsigned char *end) {
    unsigned c = s[0];
    int n;
    unsigned lo = 0x80, hi = 0xBF;
    if (c >= 0xC2 && c <= 0xDF) n = 2;
    else if (c >= 0xE0 && c <= 0xEF) { n = 3; if (c == 0xE0) lo = 0xA0; if (c == 0xED) hi = 0x9F; }
    else if (c >= 0xF0 && c <= 0xF4) { n = 4; if (c == 0xF0) lo = 0x90; if (c == 0xF4) hi = 0x8F; }
    else return 0;
    if (end - s < n) return 0;
    if (s[1] < lo || s[1] > hi) return 0;
    for (int i = 2; i < n; i++)
        if (s[i] < 0x80 || s[i] > 0xBF) return 0;
    return n;
}

/* A JSON string (p->s just after its opening quote), decoded into ``out``. */
/* The first byte at or after s that ends a plain run of a string: '"', '\\', a control character or non-ASCII. */
static inline const unsigned char *scan_plain(const unsigned char *s, const unsigned char *end) {
#ifdef __SSE2__
    const __m128i quote = _mm_set1_epi8('"'), slash = _mm_set1_epi8('\\'), space = _mm_set1_epi8(0x20);
    while (end - s >= 16) {
        __m128i v = _mm_loadu_si128((const __m128i *)s);
        /* signed: bytes >= 0x80 are negative, so "less than 0x20" also catches non-ASCII */
        __m128i hit = _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(v, quote), _mm_cmpeq_epi8(v, slash)),
                                   _mm_cmplt_epi8(v, space));
        int mask = _mm_movemask_epi8(hit);
        if (mask) return s + __builtin_ctz((unsigned)mask);
        s += 16;
    }
#endif
    while (s < end && !special[*s]) s++;
    return s;
}

static int parse_string(parser_t *p, buf_t *out) {
    const unsigned char *s = p->s, *end = p->end, *run = s;
    for (;;) {
        s = scan_plain(s, end);
        if (s >= end) return fail(p, "unterminated string");
        unsigned c = *s;
        if (c == '"') {
            if (put(out, run, (size_t)(s - run))) return fail(p, "out of memory");
            p->s = s + 1;
            return 0;
        }
        if (c >= 0x80) {
            int n = utf8_len(s, end);
            if (!n) return fail(p, "invalid UTF-8 in a string");
            s += n;
            continue;
        }
        if (c != '\\') return fail(p, "control character in a string");
        if (put(out, run, (size_t)(s - run))) return fail(p, "out of memory");
        if (end - s < 2) return fail(p, "unterminated string");
        unsigned char e = s[1], ch;
        s += 2;
        switch (e) {
        case '"': ch = '"'; break;
        case '\\': ch = '\\'; break;
        case '/': ch = '/'; break;
        case 'b': ch = '\b'; break;
        case 'f': ch = '\f'; break;
        case 'n': ch = '\n'; break;
        case 'r': ch = '\r'; break;
        case 't': ch = '\t'; break;
        case 'u': {
            unsigned cp, low;
            if (end - s < 4 || hex4(s, &cp)) return fail(p, "invalid \\u escape");
            s += 4;
            if (cp >= 0xDC00 && cp <= 0xDFFF) return fail(p, "lone low surrogate");
            if (cp >= 0xD800 && cp <= 0xDBFF) {
                if (end - s < 6 || s[0] != '\\' || s[1] != 'u' || hex4(s + 2, &low) || low < 0xDC00 || low > 0xDFFF)
                    return fail(p, "lone high surrogate");
                s += 6;
                cp = 0x10000 + ((cp - 0xD800) << 10) + (low - 0xDC00);
            }
            if (put_utf8(out, cp)) return fail(p, "out of memory");
            run = s;
            continue;
        }
        default:
            return fail(p, "invalid escape");
        }
        if (put(out, &ch, 1)) return fail(p, "out of memory");
        run = s;
    }
}

static uint32_t hash_bytes(const unsigned char *s, size_t n) {
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < n; i++) h = (h ^ s[i]) * 16777619u;
    return h;
}

static int hash_insert(node_t *n, int index) {
    if (n->hcap < 2 * (index + 1)) {
        int cap = n->hcap ? n->hcap : 64;
        while (cap < 4 * (index + 1)) cap *= 2;
        int32_t *t = calloc((size_t)cap, sizeof(int32_t));
        if (!t) return -1;
        free(n->htab);
        n->htab = t;
        n->hcap = cap;
        for (int i = 0; i < index; i++) {
            uint32_t h = hash_bytes((unsigned char *)n->names[i], n->name_lens[i]) & (uint32_t)(cap - 1);
            while (t[h]) h = (h + 1) & (uint32_t)(cap - 1);
            t[h] = i + 1;
        }
    }
    uint32_t h = hash_bytes((unsigned char *)n->names[index], n->name_lens[index]) & (uint32_t)(n->hcap - 1);
    while (n->htab[h]) h = (h + 1) & (uint32_t)(n->hcap - 1);
    n->htab[h] = index + 1;
    return 0;
}

static inline int same_name(node_t *n, int i, const unsigned char *key, size_t len) {
    if (n->name_lens[i] != len) return 0;
    const char *name = n->names[i];
    for (size_t j = 0; j < len; j++) /* names are short: a loop beats a call to memcmp */
        if (name[j] != (char)key[j]) return 0;
    return 1;
}

/* The child of struct ``n`` named ``key``, created (null-typed) if new. */
static __attribute__((noinline)) node_t *find_field(parser_t *p, node_t *n, const unsigned char *key, size_t len) {
    if (n->nfields < HASH_FROM) {
        for (int i = 0; i < n->nfields; i++)
            if (same_name(n, i, key, len)) {
                n->guess = i + 1;
                return n->children[i];
            }
    } else {
        uint32_t h = hash_bytes(key, len) & (uint32_t)(n->hcap - 1);
        while (n->htab[h]) {
            int i = n->htab[h] - 1;
            if (same_name(n, i, key, len)) {
                n->guess = i + 1;
                return n->children[i];
            }
            h = (h + 1) & (uint32_t)(n->hcap - 1);
        }
    }
    if (n->nfields == n->capfields) {
        int cap = n->capfields ? 2 * n->capfields : 8;
        char **names = realloc(n->names, (size_t)cap * sizeof *names);
        if (names) n->names = names;
        size_t *lens = realloc(n->name_lens, (size_t)cap * sizeof *lens);
        if (lens) n->name_lens = lens;
        node_t **children = realloc(n->children, (size_t)cap * sizeof *children);
        if (children) n->children = children;
        if (!names || !lens || !children) { fail(p, "out of memory"); return NULL; }
        n->capfields = cap;
    }
    int i = n->nfields;
    char *name = malloc(len ? len : 1);
    node_t *child = node_new();
    if (!name || !child) { free(name); free(child); fail(p, "out of memory"); return NULL; }
    memcpy(name, key, len);
    n->names[i] = name;
    n->name_lens[i] = len;
    n->children[i] = child;
    n->nfields++;
    if (n->nfields >= HASH_FROM && hash_insert(n, i)) { /* the first call indexes the earlier names too */
        fail(p, "out of memory");
        return NULL;
    }
    n->guess = i + 1;
    return child;
}

/* Keys mostly come in the order of the previous object's: try the field after the last one found first. */
static inline node_t *field(parser_t *p, node_t *n, const unsigned char *key, size_t len) {
    int g = n->guess;
    if (g < n->nfields && same_name(n, g, key, len)) {
        n->guess = g + 1;
        return n->children[g];
    }
    return find_field(p, n, key, len);
}

static int parse_value(parser_t *p, node_t *n);

/* An object (p->s at '{') as element n->length of struct ``n``. */
static int parse_object(parser_t *p, node_t *n) {
    if (set_kind(p, n, K_STRUCT)) return -1;
    if (++p->depth > MAX_DEPTH) return fail(p, "nested deeper than 64 levels");
    int64_t at = n->length;
    n->guess = 0;
    p->s++;
    skip_space(p);
    if (p->s < p->end && *p->s == '}') {
        p->s++;
    } else {
        for (;;) {
            skip_space(p);
            if (p->s >= p->end || *p->s != '"') return fail(p, "expected a key");
            p->s++;
            const unsigned char *key = p->s, *key_end = scan_plain(p->s, p->end);
            if (key_end < p->end && *key_end == '"') { /* a plain key: compared where it lies */
                p->s = key_end + 1;
            } else { /* escapes or non-ASCII: decoded (and checked) into the key buffer */
                p->key.len = 0;
                if (parse_string(p, &p->key)) return -1;
                key = p->key.p ? p->key.p : (const unsigned char *)"";
                key_end = key + p->key.len;
            }
            skip_space(p);
            if (p->s >= p->end || *p->s != ':') return fail(p, "expected ':'");
            p->s++;
            node_t *child = field(p, n, key, (size_t)(key_end - key));
            if (!child) return -1;
            if (child->length > at) return fail(p, "duplicate key in an object");
            if (catch_up(p, child, at)) return -1;
            skip_space(p);
            if (parse_value(p, child)) return -1;
            skip_space(p);
            if (p->s < p->end && *p->s == ',') { p->s++; continue; }
            if (p->s < p->end && *p->s == '}') { p->s++; break; }
            return fail(p, "expected ',' or '}'");
        }
    }
    p->depth--;
    return mark_valid(p, n);
}

static int parse_array(parser_t *p, node_t *n) {
    if (set_kind(p, n, K_LIST)) return -1;
    if (++p->depth > MAX_DEPTH) return fail(p, "nested deeper than 64 levels");
    p->s++;
    skip_space(p);
    if (p->s < p->end && *p->s == ']') {
        p->s++;
    } else {
        for (;;) {
            skip_space(p);
            if (parse_value(p, n->item)) return -1;
            skip_space(p);
            if (p->s < p->end && *p->s == ',') { p->s++; continue; }
            if (p->s < p->end && *p->s == ']') { p->s++; break; }
            return fail(p, "expected ',' or ']'");
        }
    }
    p->depth--;
    if (push_offset(p, n, n->item->length)) return -1;
    return mark_valid(p, n);
}

static int parse_value(parser_t *p, node_t *n) {
    if (p->s >= p->end) return fail(p, "unexpected end of a line");
    switch (*p->s) {
    case '"':
        if (set_kind(p, n, K_STRING)) return -1;
        p->s++;
        if (parse_string(p, &n->data)) return -1;
        if (push_offset(p, n, (int64_t)n->data.len)) return -1;
        return mark_valid(p, n);
    case 't':
    case 'f': {
        int value = *p->s == 't';
        if (value ? expect_word(p, "true", 4) : expect_word(p, "false", 5)) return -1;
        if (set_kind(p, n, K_BOOL)) return -1;
        if (bit_room(&n->data, n->length)) return fail(p, "out of memory");
        if (value) n->data.p[n->length / 8] |= (unsigned char)(1u << (n->length % 8));
        return mark_valid(p, n);
    }
    case 'n':
        if (expect_word(p, "null", 4)) return -1;
        return append_nulls(p, n, 1);
    case '{':
        return parse_object(p, n);
    case '[':
        return parse_array(p, n);
    case '\n':
        return fail(p, "a line ends inside a value");
    default:
        return fail(p, "a bare number or other JSON outside DynamoDB JSON");
    }
}

/* Pad every struct's children to the struct's length, all the way down. */
static int finish(parser_t *p, node_t *n) {
    if (n->kind == K_LIST) return finish(p, n->item);
    if (n->kind != K_STRUCT) return 0;
    for (int i = 0; i < n->nfields; i++)
        if (catch_up(p, n->children[i], n->length) || finish(p, n->children[i])) return -1;
    return 0;
}

static PyObject *bytes_of(buf_t *b, size_t len) { return PyBytes_FromStringAndSize((const char *)b->p, (Py_ssize_t)len); }

static PyObject *to_python(node_t *n) {
    if (n->kind == K_NULL) return Py_BuildValue("(sL)", "null", (long long)n->length);
    PyObject *validity;
    if (n->null_count) {
        validity = bytes_of(&n->validity, (size_t)((n->length + 7) / 8));
        if (!validity) return NULL;
    } else {
        validity = Py_NewRef(Py_None);
    }
    PyObject *out = NULL;
    if (n->kind == K_BOOL) {
        PyObject *data = bytes_of(&n->data, (size_t)((n->length + 7) / 8));
        if (data) out = Py_BuildValue("(sLLOO)", "bool", (long long)n->length, (long long)n->null_count, validity, data);
        Py_XDECREF(data);
    } else if (n->kind == K_STRING) {
        PyObject *offsets = bytes_of(&n->offsets, n->offsets.len);
        PyObject *data = offsets ? bytes_of(&n->data, n->data.len) : NULL;
        if (data)
            out = Py_BuildValue("(sLLOOO)", "string", (long long)n->length, (long long)n->null_count, validity,
                                offsets, data);
        Py_XDECREF(offsets);
        Py_XDECREF(data);
    } else if (n->kind == K_LIST) {
        PyObject *offsets = bytes_of(&n->offsets, n->offsets.len);
        PyObject *item = offsets ? to_python(n->item) : NULL;
        if (item)
            out = Py_BuildValue("(sLLOOO)", "list", (long long)n->length, (long long)n->null_count, validity, offsets,
                                item);
        Py_XDECREF(offsets);
        Py_XDECREF(item);
    } else {
        PyObject *fields = PyList_New(n->nfields);
        for (int i = 0; fields && i < n->nfields; i++) {
            PyObject *name = PyUnicode_DecodeUTF8(n->names[i], (Py_ssize_t)n->name_lens[i], "strict");
            PyObject *child = name ? to_python(n->children[i]) : NULL;
            PyObject *pair = child ? PyTuple_Pack(2, name, child) : NULL;
            Py_XDECREF(name);
            Py_XDECREF(child);
            if (!pair) { Py_CLEAR(fields); break; }
            PyList_SetItem(fields, i, pair); /* steals pair */
        }
        if (fields)
            out = Py_BuildValue("(sLLOO)", "struct", (long long)n->length, (long long)n->null_count, validity, fields);
        Py_XDECREF(fields);
    }
    Py_DECREF(validity);
    return out;
}

/* Parse every line; 0 when done, -1 with p->reason set. */
static int parse_lines(parser_t *p, node_t *rows) {
    for (;;) {
        while (p->s < p->end && (*p->s == ' ' || *p->s == '\t' || *p->s == '\r' || *p->s == '\n')) p->s++;
        if (p->s >= p->end) break;
        if (*p->s != '{') return fail(p, "a line that is not a JSON object");
        p->depth = 0;
        if (parse_object(p, rows)) return -1;
        skip_space(p);
        if (p->s < p->end && *p->s != '\n') return fail(p, "more than one JSON value on a line");
    }
    return finish(p, rows);
}

static PyObject *parse_json_lines(PyObject *self, PyObject *args) {
    Py_buffer view;
    (void)self;
    if (!PyArg_ParseTuple(args, "y*", &view)) return NULL;
    parser_t p = {0};
    p.start = p.s = (const unsigned char *)view.buf;
    p.end = p.s + view.len;
    node_t *rows = node_new();
    int status;
    if (!rows) {
        PyBuffer_Release(&view);
        return PyErr_NoMemory();
    }
    Py_BEGIN_ALLOW_THREADS
    status = parse_lines(&p, rows);
    Py_END_ALLOW_THREADS
    PyObject *out;
    if (status == 0 && rows->kind == K_NULL) { /* no line at all */
        out = Py_BuildValue("(sLLO[])", "struct", 0LL, 0LL, Py_None);
    } else if (status == 0) {
        out = to_python(rows);
    } else {
        out = Py_BuildValue("(ssn)", "unsupported", p.reason ? p.reason : "unknown", (Py_ssize_t)(p.s - p.start));
    }
    free(p.key.p);
    node_free(rows);
    PyBuffer_Release(&view);
    return out;
}

/* (newlines, longest line, [(index, start, length) of each line longer than limit]); with no newline at all, the
 * whole buffer is one line that is not counted. */
static PyObject *line_lengths(PyObject *self, PyObject *args) {
    Py_buffer view;
    Py_ssize_t limit;
    (void)self;
    if (!PyArg_ParseTuple(args, "y*n", &view, &limit)) return NULL;
    const char *base = view.buf, *s = base, *end = base + view.len;
    Py_ssize_t lines = 0, longest = 0;
    PyObject *long_ones = PyList_New(0);
    while (long_ones) {
        const char *nl = memchr(s, '\n', (size_t)(end - s));
        if (!nl && lines) break;
        Py_ssize_t length = (nl ? nl : end) - s;
        if (length > longest) longest = length;
        if (length > limit) {
            PyObject *entry = Py_BuildValue("(nnn)", lines, (Py_ssize_t)(s - base), length);
            if (!entry || PyList_Append(long_ones, entry)) Py_CLEAR(long_ones);
            Py_XDECREF(entry);
        }
        if (!nl) break;
        lines++;
        s = nl + 1;
    }
    PyBuffer_Release(&view);
    if (!long_ones) return NULL;
    PyObject *out = Py_BuildValue("(nnO)", lines, longest, long_ones);
    Py_DECREF(long_ones);
    return out;
}

/* A string array handed over as its buffers (validity or None, int32 offsets, data) with the array's offset and
 * length: number_stats and decimals read their values through it. */
typedef struct {
    Py_buffer validity_view, offsets_view, data_view;
    const unsigned char *bits, *chars; /* bits: NULL when every value is valid */
    const int32_t *offs;              /* already advanced by ``offset``: value i spans offs[i] .. offs[i + 1] */
    Py_ssize_t offset, length;
} strings_t;

/* Completes ``a`` once PyArg_ParseTuple filled its offsets and data views: takes ``validity``'s buffer (unless None);
 * on failure releases the views and returns -1 with the error set. */
static int strings_open(strings_t *a, PyObject *validity) {
    a->bits = NULL;
    if (validity != Py_None) {
        if (PyObject_GetBuffer(validity, &a->validity_view, PyBUF_SIMPLE)) {
            PyBuffer_Release(&a->offsets_view);
            PyBuffer_Release(&a->data_view);
            return -1;
        }
        a->bits = a->validity_view.buf;
    }
    a->offs = (const int32_t *)a->offsets_view.buf + a->offset;
    a->chars = a->data_view.buf;
    return 0;
}

static inline int strings_valid(const strings_t *a, Py_ssize_t i) {
    Py_ssize_t at = a->offset + i;
    return !a->bits || (a->bits[at / 8] & (1u << (at % 8)));
}

static void strings_close(strings_t *a) {
    if (a->bits) PyBuffer_Release(&a->validity_view);
    PyBuffer_Release(&a->offsets_view);
    PyBuffer_Release(&a->data_view);
}

/* The number profile of a string array's values (ddb_profile.number_stats): count, all integers, widest integer
 * part, widest scale, and the rows written with an exponent (left to Python's Decimal). None when a value holds a
 * character no DynamoDB number has (the Python path then decides). */
static PyObject *number_stats(PyObject *self, PyObject *args) {
    PyObject *validity;
    strings_t a;
    (void)self;
    if (!PyArg_ParseTuple(args, "Oy*y*nn", &validity, &a.offsets_view, &a.data_view, &a.offset, &a.length) ||
        strings_open(&a, validity))
        return NULL;
    Py_ssize_t count = 0, int_max = 0, plain_int_max = 0, plain_scale_max = 0;
    int all_int = 1, unsupported = 0;
    PyObject *exponent_rows = PyList_New(0);
    for (Py_ssize_t i = 0; i < a.length && exponent_rows && !unsupported; i++) {
        if (!strings_valid(&a, i)) continue;
        count++;
        const unsigned char *t = a.chars + a.offs[i], *e = a.chars + a.offs[i + 1];
        int has_exp = 0, digits_only = 1;
        for (const unsigned char *c = t; c < e; c++) {
            unsigned ch = *c;
            if (ch == 'e' || ch == 'E') has_exp = 1;
            else if (!(ch >= '0' && ch <= '9') && ch != '-' && ch != '+' && ch != '.') { unsupported = 1; break; }
        }
        if (unsupported) break;
        /* integer: -?[0-9]+ */
        const unsigned char *m = (t < e && *t == '-') ? t + 1 : t;
        if (m == e) digits_only = 0;
        for (const unsigned char *c = m; c < e && digits_only; c++)
            if (*c < '0' || *c > '9') digits_only = 0;
        if (digits_only) {
            while (m < e && *m == '0') m++;
            if (e - m > int_max) int_max = e - m;
        } else {
            all_int = 0;
        }
        if (has_exp) {
            PyObject *row = PyLong_FromSsize_t(i);
            if (!row || PyList_Append(exponent_rows, row)) Py_CLEAR(exponent_rows);
            Py_XDECREF(row);
            continue;
        }
        const unsigned char *u = t;
        while (u < e && *u == '-') u++;
        while (u < e && *u == '0') u++;
        const unsigned char *dot = memchr(u, '.', (size_t)(e - u));
        Py_ssize_t int_digits = dot ? dot - u : e - u, scale = dot ? e - dot - 1 : 0;
        if (int_digits > plain_int_max) plain_int_max = int_digits;
        if (scale > plain_scale_max) plain_scale_max = scale;
    }
    strings_close(&a);
    if (!exponent_rows) return NULL;
    if (unsupported) {
        Py_DECREF(exponent_rows);
        Py_RETURN_NONE;
    }
    PyObject *out = Py_BuildValue("(nOnnO)", count, all_int ? Py_True : Py_False, all_int ? int_max : plain_int_max,
                                  all_int ? 0 : plain_scale_max, exponent_rows);
    Py_DECREF(exponent_rows);
    return out;
}

/* Number texts -> decimal128(precision, scale): (16-byte little-endian values, validity bitmap or None, nulls), the
 * result aligned at 0 whatever the input's offset. Only plain forms -?digits[.digits] whose integer digits fit
 * precision - scale and whose fraction fits scale; anything else (exponents, more digits) gives None and the caller
 * casts with Arrow, which then also says what does not fit. */
static PyObject *decimals(PyObject *self, PyObject *args) {
    PyObject *validity;
    strings_t a;
    int precision, scale;
    (void)self;
    if (!PyArg_ParseTuple(args, "Oy*y*nnii", &validity, &a.offsets_view, &a.data_view, &a.offset, &a.length,
                          &precision, &scale) ||
        strings_open(&a, validity))
        return NULL;
    Py_ssize_t length = a.length;
    unsigned char *values = calloc((size_t)(length ? length : 1), 16);
    unsigned char *valid = a.bits ? calloc((size_t)(length / 8 + 1), 1) : NULL;
    Py_ssize_t nulls = 0;
    int ok = values && (valid || !a.bits) && precision <= 38 && scale >= 0 && scale <= precision;
#if __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
    ok = 0; /* Arrow's decimals are little-endian: leave other machines to Arrow's cast */
#endif
    for (Py_ssize_t i = 0; ok && i < length; i++) {
        if (!strings_valid(&a, i)) { nulls++; continue; }
        if (valid) valid[i / 8] |= (unsigned char)(1u << (i % 8));
        const unsigned char *t = a.chars + a.offs[i], *e = a.chars + a.offs[i + 1];
        int negative = t < e && *t == '-';
        if (negative) t++;
        const unsigned char *int_start = t;
        while (t < e && *t >= '0' && *t <= '9') t++;
        const unsigned char *int_end = t, *frac_start = t, *frac_end = t;
        if (int_end == int_start) { ok = 0; break; }
        if (t < e && *t == '.') {
            frac_start = ++t;
            while (t < e && *t >= '0' && *t <= '9') t++;
            frac_end = t;
            if (frac_end == frac_start) { ok = 0; break; }
        }
        if (t != e || frac_end - frac_start > scale) { ok = 0; break; }
        while (int_start < int_end - 1 && *int_start == '0') int_start++;
        if (!(int_end - int_start == 1 && *int_start == '0') && int_end - int_start > precision - scale) { ok = 0; break; }
        unsigned __int128 v = 0;
        for (const unsigned char *c = int_start; c < int_end; c++) v = v * 10 + (unsigned)(*c - '0');
        for (const unsigned char *c = frac_start; c < frac_end; c++) v = v * 10 + (unsigned)(*c - '0');
        for (Py_ssize_t k = frac_end - frac_start; k < scale; k++) v *= 10;
        __int128 signed_value = negative ? -(__int128)v : (__int128)v;
        memcpy(values + 16 * i, &signed_value, 16); /* little-endian, as Arrow's layout */
    }
    int had_bits = a.bits != NULL;
    strings_close(&a);
    PyObject *out = NULL;
    if (ok) {
        PyObject *value_bytes = PyBytes_FromStringAndSize((const char *)values, 16 * length);
        PyObject *valid_bytes = valid ? PyBytes_FromStringAndSize((const char *)valid, length / 8 + 1) : Py_NewRef(Py_None);
        if (value_bytes && valid_bytes) out = Py_BuildValue("(OOn)", value_bytes, valid_bytes, nulls);
        Py_XDECREF(value_bytes);
        Py_XDECREF(valid_bytes);
    } else if (!values || (had_bits && !valid)) {
        PyErr_NoMemory();
    } else {
        out = Py_NewRef(Py_None);
    }
    free(values);
    free(valid);
    return out;
}

static PyMethodDef methods[] = {
    {"decimals", decimals, METH_VARARGS,
     "decimals(validity, offsets, data, offset, length, precision, scale) -> (values, validity, nulls) or None"},
    {"number_stats", number_stats, METH_VARARGS,
     "number_stats(validity, offsets, data, offset, length) -> (count, all_int, int_digits, scale, exponent rows)"},
    {"line_lengths", line_lengths, METH_VARARGS,
     "line_lengths(data, limit) -> (newlines, longest line, [(index, start, length) of lines over limit])"},
    {"parse_json_lines", parse_json_lines, METH_VARARGS,
     "parse_json_lines(data) -> ('struct', rows, nulls, validity, fields) or ('unsupported', reason, offset)"},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_ddb_json", "JSON lines to Arrow buffers.", -1, methods,
                                   NULL, NULL, NULL, NULL};

PyMODINIT_FUNC PyInit__ddb_json(void) {
    for (int c = 0; c < 256; c++) special[c] = (c == '"' || c == '\\' || c < 0x20 || c >= 0x80);
    return PyModule_Create(&module);
}
