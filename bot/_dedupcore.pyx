# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True, initializedcheck=False
"""The dedup index's native core: the stored stories, their postings, the words' document frequencies, the
cluster centroids, and the choosing and scoring of candidates (`bot.dedup` describes the rules).

`bot.dedup` analyses a story's text in Python (words, stems, names, embedding) and hands the result here as
token analyses; everything the index keeps per story is plain C arrays. A story's keys are held sorted, with
a flag byte each (title word, name, blocking word), so every overlap the evidence needs is one merge of two
sorted runs instead of a set intersection each.
"""

cimport cython
from cpython.mem cimport PyMem_Free, PyMem_Malloc, PyMem_Realloc
from cpython.unicode cimport PyUnicode_Compare
from cpython.bytes cimport PyBytes_AS_STRING, PyBytes_GET_SIZE
from libc.math cimport INFINITY, NAN, exp, fabs, log, rint, sqrt
from libc.stdint cimport uint8_t, uint16_t, uint32_t, uint64_t
from libc.stdlib cimport qsort
from libc.string cimport memcpy, memmove, memset

from rapidfuzz import fuzz, process


cdef extern from "stdlib.h":
    # qsort with a comparator that reads Python objects: the caller holds the GIL throughout.
    void qsort_objects "qsort"(void* base, size_t n, size_t size, int (*cmp)(const void*, const void*) noexcept)

cdef enum:
    TITLE = 1  # a key of the title
    NAME = 2  # a name key ("#..."): a name, a place, an institution, a number
    BLOCK = 4  # a blocking word: the story is in its posting

cdef enum:
    N_EVIDENCE = 12  # the pieces of evidence a model weighs (bot.dedup.EVIDENCE)
    SUMMARY_FLOOR = 15  # words both summaries need before their shingles are compared
    RARE_SUMMARY_KEYS = 8  # blocking words taken from the summary, the rarest


cdef void* _grow(void* block, size_t size) except NULL:
    cdef void* grown = PyMem_Realloc(block, size if size else 1)
    if grown == NULL:
        raise MemoryError()
    return grown


cdef int _grow_pair(uint32_t** keys, uint16_t** counts, Py_ssize_t n) except -1:
    """New arrays for a centroid's keys and counts (both, or neither on a failure)."""
    cdef uint32_t* k = <uint32_t*>_grow(NULL, n * sizeof(uint32_t))
    try:
        counts[0] = <uint16_t*>_grow(NULL, n * sizeof(uint16_t))
    except MemoryError:
        PyMem_Free(k)
        raise
    keys[0] = k
    return 0


# Half-precision floats (a story's text vector), widened through a table of all 65,536 of them.
cdef float _HALF[65536]


cdef float _half_to_float(uint16_t h) noexcept:
    cdef int exponent = (h >> 10) & 0x1F
    cdef int mantissa = h & 0x3FF
    cdef float value
    if exponent == 0:
        value = mantissa * (1.0 / 16777216.0)  # 2^-24
    elif exponent == 31:
        value = INFINITY if mantissa == 0 else NAN
    else:
        value = (1024 + mantissa) * (2.0 ** (exponent - 25))
    return -value if h & 0x8000 else value


cdef void _fill_half() noexcept:
    cdef int h
    for h in range(65536):
        _HALF[h] = _half_to_float(<uint16_t>h)


_fill_half()


cdef uint16_t _float_to_half(float value) noexcept:
    """Round a float to half precision, to nearest, ties to even (as numpy does)."""
    cdef uint32_t bits
    memcpy(&bits, &value, 4)
    cdef uint16_t sign = (bits >> 16) & 0x8000
    cdef int exponent = (bits >> 23) & 0xFF
    cdef uint32_t mantissa = bits & 0x7FFFFF
    cdef int e
    cdef int shift
    cdef uint32_t half, rest, halfway
    if exponent == 0xFF:
        return sign | 0x7C00 | (0x200 if mantissa else 0)
    e = exponent - 127 + 15
    if e >= 31:
        return sign | 0x7C00
    if e <= 0:
        if e < -10:
            return sign
        mantissa |= 0x800000
        shift = 14 - e
        half = mantissa >> shift
        rest = mantissa & ((1u << shift) - 1)
        halfway = 1u << (shift - 1)
        if rest > halfway or (rest == halfway and (half & 1)):
            half += 1
        return sign | <uint16_t>half
    half = (<uint32_t>e << 10) | (mantissa >> 13)
    rest = mantissa & 0x1FFF
    if rest > 0x1000 or (rest == 0x1000 and (half & 1)):
        half += 1  # a carry into the exponent is the right result
    return sign | <uint16_t>half


cdef double _half_dot(const uint16_t* a, const uint16_t* b, Py_ssize_t n) noexcept:
    """The dot product of two half-precision vectors as numpy gives it: summed in single precision in
    order, the result rounded to half precision."""
    cdef float total = 0
    cdef Py_ssize_t i
    for i in range(n):
        total += _HALF[a[i]] * _HALF[b[i]]
    return _HALF[_float_to_half(total)]


def half_dot(const unsigned char[::1] a, const unsigned char[::1] b):
    """The cosine of two unit vectors given as the bytes of half-precision floats (`bot.meaning`)."""
    if a.shape[0] != b.shape[0] or a.shape[0] % 2:
        raise ValueError("half_dot: two vectors of one length in whole half-precision floats needed")
    if a.shape[0] == 0:
        return 0.0
    return _half_dot(<const uint16_t*>&a[0], <const uint16_t*>&b[0], a.shape[0] // 2)


# Sorting: keys with their flags (as one 64-bit value), and blocking words by their spelling.
cdef int _cmp_u64(const void* a, const void* b) noexcept nogil:
    cdef uint64_t x = (<const uint64_t*>a)[0]
    cdef uint64_t y = (<const uint64_t*>b)[0]
    return (x > y) - (x < y)


cdef int _cmp_u32(const void* a, const void* b) noexcept nogil:
    cdef uint32_t x = (<const uint32_t*>a)[0]
    cdef uint32_t y = (<const uint32_t*>b)[0]
    return (x > y) - (x < y)


# The words' spellings by id (bot.dedup._WORDS), for the order of blocking words: one list per process, given
# by the first core made.
cdef list _spelling = None


cdef int _cmp_spelling(const void* a, const void* b) noexcept:
    cdef uint32_t x = (<const uint32_t*>a)[0]
    cdef uint32_t y = (<const uint32_t*>b)[0]
    if x == y:
        return 0
    return PyUnicode_Compare(_spelling[x], _spelling[y])


ctypedef struct _Run:
    uint32_t count  # how many of the story's blocking words' postings hold the key
    uint32_t first  # where it was first met, in the blocking words' order
    uint32_t key


cdef int _cmp_run(const void* a, const void* b) noexcept nogil:
    """Most shared first; ties in the order first met."""
    cdef const _Run* x = <const _Run*>a
    cdef const _Run* y = <const _Run*>b
    if x.count != y.count:
        return (x.count < y.count) - (x.count > y.count)
    return (x.first > y.first) - (x.first < y.first)


ctypedef struct _Rare:
    uint32_t df
    uint32_t key
    uint32_t at  # its place among the story's keys


cdef int _cmp_rare(const void* a, const void* b) noexcept:
    cdef const _Rare* x = <const _Rare*>a
    cdef const _Rare* y = <const _Rare*>b
    if x.df != y.df:
        return (x.df > y.df) - (x.df < y.df)
    return _cmp_spelling(&x.key, &y.key)


@cython.final
@cython.no_gc
cdef class Doc:
    """A new story, analysed: its sorted keys with their flags and weights (inverse document frequencies
    when it arrived), its blocking words, its shingles, and the sums the evidence divides by."""

    cdef uint32_t* keys
    cdef uint8_t* flags
    cdef double* weights
    cdef Py_ssize_t n
    cdef uint32_t* shingles
    cdef Py_ssize_t n_shingles
    cdef uint32_t* blocking
    cdef Py_ssize_t n_blocking
    cdef double own, own_title, own_names, own2, norm
    cdef int summary_words
    cdef bint rolling
    cdef str title, source, story_id
    cdef bytes vector  # or None
    cdef object owner  # the core that built it: its word ids fit that core's arrays
    cdef bint weighed  # weights, sums and blocking words are set (not so for a story only counted)

    def __dealloc__(self):
        PyMem_Free(self.keys)

    def weights_by_key(self):
        """{key: its weight} (for tests and tools)."""
        return {self.keys[i]: self.weights[i] for i in range(self.n)}


@cython.final
@cython.no_gc
cdef class Member:
    """A stored story: what scoring reads of it, in one block of memory (keys, their flags, shingles)."""

    cdef readonly uint32_t key
    cdef readonly str story_id
    cdef readonly str cluster_id
    cdef readonly str title
    cdef str source
    cdef uint32_t* keys
    cdef uint8_t* flags
    cdef Py_ssize_t n
    cdef uint32_t* shingles
    cdef Py_ssize_t n_shingles
    cdef bytes vector
    cdef double weight, title_weight, names_weight
    cdef int summary_words
    cdef readonly double when
    cdef bint rolling

    def __dealloc__(self):
        PyMem_Free(self.keys)


@cython.final
@cython.no_gc
cdef class Cluster:
    """A cluster's centroid: the keys its members hold with how many hold each, its squared norm, and how many
    members are live. A cluster of one story (most are) reads its keys from that story."""

    cdef Member single
    cdef uint32_t* keys
    cdef uint16_t* counts
    cdef Py_ssize_t n
    cdef double norm2
    cdef Py_ssize_t size
    cdef double started

    def __dealloc__(self):
        PyMem_Free(self.keys)
        PyMem_Free(self.counts)

    cdef double dot(self, Doc doc):
        """The dot product of the story's weights with the centroid, weighted by the story's weights."""
        if self.single is not None:  # each of its keys counted once
            return _weighted_dot(doc, self.single.keys, NULL, self.single.n)
        return _weighted_dot(doc, self.keys, self.counts, self.n)

    cdef int add(self, Doc doc, double dot, double norm2, bint stored) except -1:
        """Count a story's keys in the centroid; `stored` when it is a live member (not a copy)."""
        cdef Py_ssize_t i, j, k, fresh
        cdef Member m = self.single
        if m is not None:  # from one story's keys to a centroid of its own
            _grow_pair(&self.keys, &self.counts, m.n)
            memcpy(self.keys, m.keys, m.n * sizeof(uint32_t))
            for i in range(m.n):
                self.counts[i] = 1
            self.n = m.n
            self.single = None
        # How many of the story's keys the centroid lacks.
        fresh = 0
        i = j = 0
        while i < doc.n:
            if j == self.n or doc.keys[i] < self.keys[j]:
                fresh += 1
                i += 1
            elif doc.keys[i] > self.keys[j]:
                j += 1
            else:
                i += 1
                j += 1
        cdef uint32_t* keys = self.keys
        cdef uint16_t* counts = self.counts
        if fresh:
            keys = NULL
            counts = NULL
            _grow_pair(&keys, &counts, self.n + fresh)
        # Merge from the back, so counting in place (nothing fresh) and into new arrays are one loop.
        i, j, k = doc.n - 1, self.n - 1, self.n + fresh - 1
        while k >= 0:
            if i >= 0 and (j < 0 or doc.keys[i] > self.keys[j]):
                keys[k] = doc.keys[i]
                counts[k] = 1
                i -= 1
            elif i >= 0 and doc.keys[i] == self.keys[j]:
                keys[k] = self.keys[j]
                counts[k] = self.counts[j] + 1 if self.counts[j] < 0xFFFF else 0xFFFF
                i -= 1
                j -= 1
            else:
                keys[k] = self.keys[j]
                counts[k] = self.counts[j]
                j -= 1
            k -= 1
        if fresh:
            PyMem_Free(self.keys)
            PyMem_Free(self.counts)
            self.keys, self.counts = keys, counts
            self.n += fresh
        self.norm2 += norm2 + 2 * dot  # |c + d|^2 = |c|^2 + 2 c.d + |d|^2, at today's weights
        self.size += stored
        return 0

    def dot_with(self, Doc doc):
        """`dot` (for tests and tools)."""
        return self.dot(doc)

    def counts_by_key(self):
        """{key: how many of its stories hold it} (for tests and tools)."""
        if self.single is not None:
            return {self.single.keys[i]: 1 for i in range(self.single.n)}
        return {self.keys[i]: self.counts[i] for i in range(self.n)}


cdef double _weighted_dot(Doc doc, const uint32_t* keys, const uint16_t* counts, Py_ssize_t n) noexcept:
    """The sum over the keys a story shares with sorted `keys` of its weight squared times the key's count
    (1 each without `counts`): by a merge, or by a search per key where `keys` are many more."""
    cdef double total = 0
    cdef Py_ssize_t i = 0, j = 0, hi, mid
    if n > 8 * doc.n:
        for i in range(doc.n):  # the story's keys ascend, so each search starts where the last ended
            hi = n
            while j < hi:
                mid = (j + hi) >> 1
                if keys[mid] < doc.keys[i]:
                    j = mid + 1
                else:
                    hi = mid
            if j == n:
                break
            if keys[j] == doc.keys[i]:
                total += doc.weights[i] * doc.weights[i] * (counts[j] if counts != NULL else 1)
        return total
    while i < doc.n and j < n:
        if doc.keys[i] < keys[j]:
            i += 1
        elif doc.keys[i] > keys[j]:
            j += 1
        else:
            total += doc.weights[i] * doc.weights[i] * (counts[j] if counts != NULL else 1)
            i += 1
            j += 1
    return total


ctypedef struct Posting:
    uint32_t* keys
    uint32_t n
    uint32_t capacity
    uint32_t stale  # entries of expired stories left in a posting too long to be read


cdef double _LOG1P[100000]
cdef Py_ssize_t _i
for _i in range(100000):
    _LOG1P[_i] = log(<double>(_i + 1))


cdef class Core:
    """The index's state and its per-story work; `bot.dedup.ClusterIndex` is its interface."""

    cdef Posting* postings
    cdef uint32_t* df
    cdef Py_ssize_t vocabulary  # how many word ids `postings` and `df` have room for
    cdef Py_ssize_t docs
    cdef double log_docs
    cdef dict members  # key -> Member
    cdef dict clusters  # cluster id -> Cluster
    cdef dict by_url  # hash of a canonical URL -> key of the first stored story with it
    cdef uint32_t next_key
    cdef Py_ssize_t since_expire
    # The configuration (bot.dedup.DedupConfig) and the model (bot.dedup.Model).
    cdef double window, title_same, shingles_same, min_block_share, overlap_floor, min_overlap, max_span
    cdef Py_ssize_t max_postings, max_candidates
    cdef double model[N_EVIDENCE]
    cdef double bias, join_probability, join_logit
    cdef object observe
    cdef uint64_t* scratch  # candidate counting: `scratch_size` entries, then as many runs (`_Run`)
    cdef Py_ssize_t scratch_size

    def __init__(
        self,
        words,
        double window,
        double title_same,
        double shingles_same,
        Py_ssize_t max_postings,
        double min_block_share,
        double overlap_floor,
        double min_overlap,
        Py_ssize_t max_candidates,
        double max_span,
        tuple weights,
        double bias,
        double join_probability,
        observe,
    ):
        global _spelling
        if _spelling is None:
            _spelling = words
        elif words is not _spelling:
            raise ValueError("dedup: every index in a process numbers words in one list (bot.dedup._WORDS)")
        if len(weights) != N_EVIDENCE:
            raise ValueError(f"dedup: {N_EVIDENCE} weights needed, got {len(weights)}")
        self.window, self.title_same, self.shingles_same = window, title_same, shingles_same
        self.max_postings, self.min_block_share = max_postings, min_block_share
        self.overlap_floor, self.min_overlap, self.max_candidates = overlap_floor, min_overlap, max_candidates
        self.max_span = max_span
        for i in range(N_EVIDENCE):
            self.model[i] = weights[i]
        self.bias, self.join_probability = bias, join_probability
        p = join_probability
        self.join_logit = log(p / (1 - p)) if 0 < p < 1 else (INFINITY if p >= 1 else -INFINITY)
        self.observe = observe
        self.members, self.clusters, self.by_url = {}, {}, {}
        self.docs = 0
        self.log_docs = log(10)

    def __dealloc__(self):
        cdef Py_ssize_t i
        if self.postings != NULL:
            for i in range(self.vocabulary):
                PyMem_Free(self.postings[i].keys)
        PyMem_Free(self.postings)
        PyMem_Free(self.df)
        PyMem_Free(self.scratch)

    def __len__(self):
        return len(self.members)

    cdef int _make_room(self, Py_ssize_t word) except -1:
        """Room in `postings` and `df` for word ids up to `word`."""
        if word < self.vocabulary:
            return 0
        cdef Py_ssize_t size = max(word + 1, 2 * self.vocabulary, 1024)
        self.postings = <Posting*>_grow(self.postings, size * sizeof(Posting))
        self.df = <uint32_t*>_grow(self.df, size * sizeof(uint32_t))
        memset(&self.postings[self.vocabulary], 0, (size - self.vocabulary) * sizeof(Posting))
        memset(&self.df[self.vocabulary], 0, (size - self.vocabulary) * sizeof(uint32_t))
        self.vocabulary = size
        return 0

    cdef inline uint32_t _df(self, uint32_t word) noexcept:
        return self.df[word] if word < self.vocabulary else 0

    # -- a story's analysis -------------------------------------------------------------------------------

    def doc(
        self, str story_id, list title, list head, str title_text, bytes vector, bint rolling, str source,
        bint weigh=True,
    ):
        """Build a story's `Doc` from its tokens' analyses (bot.dedup._Token: normal forms, keys with name
        keys, keys without, name keys), its title, vector and outlet. The keys of a text's first token
        are its keys without name keys: a capitalised word opening a text is not taken for a name."""
        cdef Doc doc = Doc.__new__(Doc)
        doc.owner = self
        cdef Py_ssize_t count = 0, i, j, n
        cdef tuple token
        cdef object key
        # Count the keys, to size one buffer of (key << 8 | flags) values; check each token's shape, as the
        # loops below read it unchecked.
        for tokens in (title, head):
            for i, token in enumerate(<list>tokens):
                if len(token) != 4 or not (
                    type(token[0]) is tuple and type(token[1]) is tuple and type(token[2]) is tuple
                    and type(token[3]) is tuple
                ):
                    raise TypeError(f"dedup: a token analysis is 4 tuples (bot.dedup._Token), got {token!r}")
                count += len(<tuple>token[2 if i == 0 else 1]) + (len(<tuple>token[3]) if i else 0)
        cdef uint64_t* tagged = <uint64_t*>_grow(NULL, (count + 1) * sizeof(uint64_t))
        cdef list norms = []
        try:
            n = 0
            for i, token in enumerate(title):
                for key in <tuple>token[2 if i == 0 else 1]:
                    tagged[n] = (<uint64_t>key << 8) | TITLE
                    n += 1
                if i:
                    for key in <tuple>token[3]:
                        tagged[n] = (<uint64_t>key << 8) | NAME
                        n += 1
            for i, token in enumerate(head):
                norms.extend(<tuple>token[0])
                for key in <tuple>token[2 if i == 0 else 1]:
                    tagged[n] = <uint64_t>key << 8
                    n += 1
                if i:
                    for key in <tuple>token[3]:
                        tagged[n] = (<uint64_t>key << 8) | NAME
                        n += 1
            qsort(tagged, n, sizeof(uint64_t), _cmp_u64)
            # One entry per key, its flags or'ed together.
            j = -1
            for i in range(n):
                if j >= 0 and (tagged[j] >> 8) == (tagged[i] >> 8):
                    tagged[j] |= tagged[i] & 0xFF
                else:
                    j += 1
                    tagged[j] = tagged[i]
            n = j + 1
            doc.n = n
            n_norms = len(norms)
            doc.summary_words = n_norms
            doc.n_shingles = max(0, n_norms - 2)
            # One block: keys, weights, shingles, blocking words, flags.
            doc.keys = <uint32_t*>_grow(
                NULL,
                n * (sizeof(uint32_t) + sizeof(double) + sizeof(uint32_t) + 1)
                + doc.n_shingles * sizeof(uint32_t)
                + sizeof(double),
            )
            doc.weights = <double*>(doc.keys + n + (n & 1))
            doc.shingles = <uint32_t*>(doc.weights + n)
            doc.blocking = doc.shingles + doc.n_shingles
            doc.flags = <uint8_t*>(doc.blocking + n)
            if n and (tagged[n - 1] >> 8) >= <uint64_t>len(_spelling):
                raise ValueError(f"dedup: word id {tagged[n - 1] >> 8} was never given out (bot.dedup._word_id)")
            for i in range(n):
                doc.keys[i] = <uint32_t>(tagged[i] >> 8)
                doc.flags[i] = <uint8_t>(tagged[i] & 0xFF)
            if n:
                self._make_room(doc.keys[n - 1])
        finally:
            PyMem_Free(tagged)
        # Shingles: the hashes of the summary's word 3-shingles, 32 bits, distinct and ascending.
        cdef Py_hash_t h
        for i in range(doc.n_shingles):
            h = hash((norms[i], norms[i + 1], norms[i + 2]))
            doc.shingles[i] = <uint32_t>(<uint64_t>h & 0xFFFFFFFF)
        qsort(doc.shingles, doc.n_shingles, sizeof(uint32_t), _cmp_u32)
        j = -1
        for i in range(doc.n_shingles):
            if j < 0 or doc.shingles[j] != doc.shingles[i]:
                j += 1
                doc.shingles[j] = doc.shingles[i]
        doc.n_shingles = j + 1
        doc.story_id, doc.title, doc.source, doc.vector, doc.rolling = story_id, title_text, source, vector, rolling
        if weigh:
            self._weigh(doc)
        return doc

    cdef int _weigh(self, Doc doc) except -1:
        """The keys' weights, log((docs + 10) / (df + 1)) so far in the stream, their sums, and the blocking
        words: the title's words that are not names and the rarest of the summary's other words."""
        cdef Py_ssize_t i, n_rare = 0, n_block = 0
        cdef uint32_t df
        cdef double w, own = 0, own_title = 0, own_names = 0, own2 = 0
        for i in range(doc.n):
            df = self.df[doc.keys[i]]
            w = self.log_docs - (_LOG1P[df] if df < 100000 else log(<double>df + 1))
            doc.weights[i] = w
            own += w
            own2 += w * w
            if doc.flags[i] & TITLE:
                own_title += w
            if doc.flags[i] & NAME:
                own_names += w
        doc.own, doc.own_title, doc.own_names, doc.own2, doc.norm = own, own_title, own_names, own2, sqrt(own2)
        cdef _Rare* rare = <_Rare*>_grow(NULL, (doc.n + 1) * sizeof(_Rare))
        try:
            for i in range(doc.n):
                if doc.flags[i] & NAME:
                    continue  # a name's key and its name key find the same stories
                if doc.flags[i] & TITLE:
                    doc.blocking[n_block] = doc.keys[i]
                    doc.flags[i] |= BLOCK
                    n_block += 1
                else:
                    rare[n_rare].df = self.df[doc.keys[i]]
                    rare[n_rare].key = doc.keys[i]
                    rare[n_rare].at = i
                    n_rare += 1
            qsort_objects(rare, n_rare, sizeof(_Rare), _cmp_rare)
            for i in range(min(n_rare, RARE_SUMMARY_KEYS)):
                doc.blocking[n_block] = rare[i].key
                doc.flags[rare[i].at] |= BLOCK  # a stored story's postings are found again from its flags
                n_block += 1
        finally:
            PyMem_Free(rare)
        # In alphabetical order, as ties between candidates go to the first word's postings: the choice never
        # depends on the order ids were given in.
        qsort_objects(doc.blocking, n_block, sizeof(uint32_t), _cmp_spelling)
        doc.n_blocking = n_block
        doc.weighed = True
        return 0

    cdef int _check(self, Doc doc, bint weighed) except -1:
        if doc.owner is not self:
            raise ValueError("dedup: a story's Doc is used by the core that built it")
        if weighed and not doc.weighed:
            raise ValueError("dedup: a story built with weigh=False can only be counted")
        return 0

    def count(self, Doc doc):
        """Count a story's words in the document frequencies."""
        self._check(doc, False)
        cdef Py_ssize_t i
        self.docs += 1
        self.log_docs = log(<double>(self.docs + 10))
        for i in range(doc.n):
            self.df[doc.keys[i]] += 1

    # -- assigning ------------------------------------------------------------------------------------------

    def assign(self, Doc doc, str story_id, url, double when):
        """Put a new story in a cluster (an existing one, or its own) and index it; return (cluster id,
        whether it is new, reason, score), the reason "new" and the score 0 for a cluster of its own."""
        self._check(doc, True)
        found = self.find(doc, url, when)
        cdef Member other
        if found is None:
            self.add(doc, story_id, story_id, url, when)
            result = (story_id, True, "new", 0.0)
        else:
            other, reason, score = found
            result = (other.cluster_id, False, reason, score)
            if self._is_copy(doc, other, reason):
                self.add_copy(doc, other, url, when)
            else:
                self.add(doc, story_id, other.cluster_id, url, when)
        self.since_expire += 1
        if self.since_expire >= 1000:
            self.expire(when - self.window)
        return result

    def restore(self, Doc doc, str story_id, str cluster_id, url, double when):
        """Index a stored story in its known cluster; a copy of a story restored before it in that cluster
        is counted, not stored, as `assign` does."""
        self._check(doc, True)
        cdef Member other
        if cluster_id in self.clusters:
            found = self.find(doc, url, when)
            if found is not None:
                other, reason, _ = found
                if other.cluster_id == cluster_id and self._is_copy(doc, other, reason):
                    self.add_copy(doc, other, url, when)
                    return
        self.add(doc, story_id, cluster_id, url, when)

    cdef bint _is_copy(self, Doc doc, Member original, str reason):
        """Whether a story that joined `original` is a copy the index need not store (bot.dedup)."""
        if reason == "url":
            return True
        return (reason == "title" or reason == "summary") and _summary_overlap(doc, original) >= self.shingles_same

    def add(self, Doc doc, str story_id, str cluster_id, url, double when):
        """Store a story: count its words, post it under its blocking words, add it to its cluster."""
        self._check(doc, True)
        if self.next_key == 0xFFFFFFFF:
            raise OverflowError("dedup: 4,294,967,295 stories stored; start a new index")
        self.count(doc)
        cdef uint32_t key = self.next_key
        self.next_key += 1
        cdef Member m = Member.__new__(Member)
        m.key, m.story_id, m.cluster_id, m.title, m.source = key, story_id, cluster_id, doc.title, doc.source
        m.n, m.n_shingles = doc.n, doc.n_shingles
        m.keys = <uint32_t*>_grow(NULL, doc.n * sizeof(uint32_t) + doc.n_shingles * sizeof(uint32_t) + doc.n)
        m.shingles = m.keys + doc.n
        m.flags = <uint8_t*>(m.shingles + doc.n_shingles)
        memcpy(m.keys, doc.keys, doc.n * sizeof(uint32_t))
        memcpy(m.shingles, doc.shingles, doc.n_shingles * sizeof(uint32_t))
        memcpy(m.flags, doc.flags, doc.n)
        m.vector = doc.vector
        m.weight, m.title_weight, m.names_weight = doc.own, doc.own_title, doc.own_names
        m.summary_words, m.when, m.rolling = doc.summary_words, when, doc.rolling
        self.members[key] = m
        if url is not None:
            self.by_url.setdefault(url, key)
        cdef Py_ssize_t i
        cdef Posting* p
        cdef uint32_t word
        for i in range(doc.n_blocking):
            word = doc.blocking[i]
            p = &self.postings[word]
            if p.n == p.capacity:
                p.keys = <uint32_t*>_grow(p.keys, max(4, 2 * p.capacity) * sizeof(uint32_t))
                p.capacity = max(4, 2 * p.capacity)
            p.keys[p.n] = key
            p.n += 1
        self._join(cluster_id, doc, m, True)

    def add_copy(self, Doc doc, Member original, url, double when):
        """Count a copy of a stored story in its words' frequencies and its cluster's centroid, and let the
        original stand in for it: its URL leads to the original, which stays as long as the copy would."""
        self._check(doc, True)
        self.count(doc)
        if url is not None:
            self.by_url.setdefault(url, original.key)
        original.when = max(original.when, when)
        self._join(original.cluster_id, doc, original, False)

    cdef int _join(self, str cluster_id, Doc doc, Member member, bint stored) except -1:
        cdef Cluster cluster = self.clusters.get(cluster_id)
        if cluster is None:
            cluster = Cluster.__new__(Cluster)
            cluster.single, cluster.norm2, cluster.size, cluster.started = member, doc.own2, 1, member.when
            self.clusters[cluster_id] = cluster
        else:
            cluster.add(doc, cluster.dot(doc), doc.own2, stored)
        return 0

    def expire(self, double cutoff):
        """Forget stories published before `cutoff`; return how many were dropped."""
        self.since_expire = 0
        cdef Member m
        cdef Cluster cluster
        old = [m for m in self.members.values() if m.when < cutoff]
        for m in old:
            del self.members[m.key]
            self._unpost(m)
            # A centroid keeps the words of members that aged out while the cluster lives on.
            cluster = self.clusters[m.cluster_id]
            cluster.size -= 1
            if not cluster.size:
                del self.clusters[m.cluster_id]
        if old:
            members = self.members
            self.by_url = {url: key for url, key in self.by_url.items() if key in members}
        return len(old)

    cdef int _unpost(self, Member m) except -1:
        """Take an expired story (already out of `members`) out of its blocking words' postings. Deleting
        from a posting costs a search and a shift, so a long posting (never read) only counts the story
        stale, and is rebuilt once a quarter of it is stale or it becomes short enough to be read."""
        cdef Py_ssize_t i, at, kept
        cdef Posting* p
        cdef uint32_t dead, live
        for i in range(m.n):
            if not m.flags[i] & BLOCK:
                continue
            p = &self.postings[m.keys[i]]
            dead = p.stale + 1
            p.stale = 0
            live = p.n - dead
            if not live:
                PyMem_Free(p.keys)
                p.keys, p.n, p.capacity = NULL, 0, 0
            elif dead == 1 and live <= self.max_postings:
                at = 0
                while p.keys[at] != m.key:
                    at += 1
                memmove(&p.keys[at], &p.keys[at + 1], (p.n - at - 1) * sizeof(uint32_t))
                p.n -= 1
            elif live <= self.max_postings or 4 * dead >= p.n:
                kept = 0
                for at in range(p.n):
                    if p.keys[at] in self.members:
                        p.keys[kept] = p.keys[at]
                        kept += 1
                p.n = kept
                if p.capacity > 2 * kept + 8:  # a crowded word's posting shrinks with it
                    p.keys = <uint32_t*>_grow(p.keys, kept * sizeof(uint32_t))
                    p.capacity = kept
            else:
                p.stale = dead
        return 0

    def sizes(self):
        """What the index holds (bot.dedup.ClusterIndex.sizes)."""
        cdef Py_ssize_t i, words = 0, entries = 0, counted = 0
        for i in range(self.vocabulary):
            if self.postings[i].n:
                words += 1
                entries += self.postings[i].n
            if self.df[i]:
                counted += 1
        return {
            "stories": len(self.members),
            "clusters": len(self.clusters),
            "urls": len(self.by_url),
            "blocking words": words,
            "posting entries": entries,
            "document frequencies": counted,
        }

    def cluster(self, str cluster_id):
        """The live cluster of that id, or None (for tests and tools)."""
        return self.clusters.get(cluster_id)

    # -- finding --------------------------------------------------------------------------------------------

    cdef list _candidates(self, Doc doc, double when):
        """Stored stories within the window sharing the most blocking words with the story, most first.

        A rolling page (a live blog, a newsletter) is a development of its own: its candidates are its own
        outlet's rolling pages, and a report's are reports."""
        cdef Py_ssize_t i, j, total = 0, n = 0, runs
        cdef uint32_t count, first, key
        cdef Posting* p
        for i in range(doc.n_blocking):
            p = &self.postings[doc.blocking[i]]
            if p.n <= self.max_postings:  # a word many stored stories hold tells little and costs much
                total += p.n
        if total == 0:
            return []
        if total > self.scratch_size:
            self.scratch = <uint64_t*>_grow(self.scratch, total * (sizeof(uint64_t) + sizeof(_Run)))
            self.scratch_size = total
        cdef uint64_t* entries = self.scratch
        # Each posting entry as (key, the order it was met in); sorted, a key's entries are one run.
        for i in range(doc.n_blocking):
            p = &self.postings[doc.blocking[i]]
            if p.n <= self.max_postings:
                for j in range(p.n):
                    entries[n] = (<uint64_t>p.keys[j] << 32) | <uint64_t>n
                    n += 1
        qsort(entries, n, sizeof(uint64_t), _cmp_u64)
        # Each key once, with how many postings hold it and where it was first met.
        cdef _Run* found = <_Run*>(entries + self.scratch_size)
        runs = 0
        i = 0
        while i < n:
            j = i
            while j < n and (entries[j] >> 32) == (entries[i] >> 32):
                j += 1
            count, first, key = j - i, entries[i] & 0xFFFFFFFF, entries[i] >> 32
            found[runs].count, found[runs].first, found[runs].key = count, first, key
            runs += 1
            i = j
        qsort(found, runs, sizeof(_Run), _cmp_run)
        cdef Py_ssize_t floor = max(1, <Py_ssize_t>rint(self.min_block_share * doc.n_blocking))
        cdef list chosen = []
        cdef Member m
        for i in range(runs):
            if found[i].count < floor or len(chosen) == self.max_candidates:
                break
            m = self.members[found[i].key]
            if fabs(m.when - when) <= self.window and m.rolling == doc.rolling and (
                not doc.rolling or m.source == doc.source
            ):
                chosen.append(m)
        return chosen

    def find(self, Doc doc, url, double when):
        """The stored story the new one belongs with, as (member, reason, score), or None."""
        self._check(doc, True)
        cdef Member other, best = None
        cdef double v, best_score = 0
        if url is not None:
            key = self.by_url.get(url)
            if key is not None:
                other = self.members.get(key)
                if other is not None and fabs(other.when - when) <= self.window:
                    return other, "url", 1.0
        if doc.own <= 0:
            return None
        cdef list candidates = self._candidates(doc, when)
        if not candidates:
            return None
        if doc.title:
            hit = process.extractOne(
                doc.title, [other.title for other in candidates], scorer=fuzz.ratio, score_cutoff=self.title_same
            )
            if hit is not None:
                return candidates[hit[2]], "title", hit[1] / 100
        if doc.rolling:  # two live pages are one only by address, headline or wording, never by likeness
            for other in candidates:
                v = _summary_overlap(doc, other)
                if v >= self.shingles_same and (best is None or 1.0 + v > best_score):
                    best, best_score = other, 1.0 + v
            return None if best is None else (best, "summary", best_score)
        cdef dict centroids = {}
        cdef str best_reason = None
        for other in candidates:
            verdict = self._compare(doc, other, fabs(other.when - when), when, centroids)
            if verdict is not None and (best is None or verdict[1] > best_score):
                best, best_reason, best_score = other, verdict[0], verdict[1]
        return None if best is None else (best, best_reason, best_score)

    cdef object _compare(self, Doc doc, Member other, double gap, double when, dict centroids):
        """Why and how strongly the story belongs with `other` (reason, score), or None."""
        # One merge of the two stories' sorted keys gathers every overlap the evidence needs.
        cdef Py_ssize_t i = 0, j = 0
        cdef uint8_t mine, theirs
        cdef double w, shared = 0, title_shared = 0, mine_there = 0, theirs_here = 0, names_shared = 0
        cdef double rarest = 0
        cdef bint common = False
        while i < doc.n and j < other.n:
            if doc.keys[i] < other.keys[j]:
                i += 1
            elif doc.keys[i] > other.keys[j]:
                j += 1
            else:
                w, mine, theirs = doc.weights[i], doc.flags[i], other.flags[j]
                shared += w
                if mine & TITLE:
                    mine_there += w
                    if theirs & TITLE:
                        title_shared += w
                if theirs & TITLE:
                    theirs_here += w
                if mine & theirs & NAME:
                    names_shared += w
                if not common or w > rarest:
                    rarest = w
                common = True
                i += 1
                j += 1
        cdef double overlap = 2 * shared / (doc.own + other.weight)
        if overlap < self.min_overlap:
            return None
        cdef double shingles = 0.0
        if overlap >= self.overlap_floor:
            shingles = _summary_overlap(doc, other)
            if shingles >= self.shingles_same:
                return "summary", 1.0 + shingles
        cdef Cluster cluster = self.clusters.get(other.cluster_id)
        if cluster is not None and when - cluster.started > self.max_span:
            return None
        cdef double ev[N_EVIDENCE]
        cdef double lighter = min(doc.own, other.weight)
        cdef double titles = doc.own_title + other.title_weight
        cdef double names = doc.own_names + other.names_weight
        mine_there = mine_there / doc.own_title if doc.own_title else 0.0
        theirs_here = theirs_here / other.title_weight if other.title_weight else 0.0
        ev[0] = overlap
        ev[1] = shared / lighter if lighter > 0 else 0.0
        ev[2] = 2 * title_shared / titles if titles > 0 else 0.0
        ev[3] = min(mine_there, theirs_here)
        ev[4] = 2 * names_shared / names if names > 0 else 0.0
        ev[5] = rarest
        ev[6] = fuzz.ratio(doc.title, other.title) / 100 if doc.title and other.title else 0.0
        ev[7] = shingles
        ev[8] = gap / 3600
        ev[9] = 1.0 if doc.source and doc.source == other.source else 0.0
        ev[10] = 0.0
        if doc.vector and other.vector and PyBytes_GET_SIZE(doc.vector) == PyBytes_GET_SIZE(other.vector):
            ev[10] = _half_dot(
                <const uint16_t*>PyBytes_AS_STRING(doc.vector),
                <const uint16_t*>PyBytes_AS_STRING(other.vector),
                PyBytes_GET_SIZE(doc.vector) // 2,
            )
        cdef double z = 0
        for i in range(N_EVIDENCE - 1):
            z += self.model[i] * ev[i]
        z = self.bias + z
        # The centroid costs most and lies in [0, 1]: weigh it only if it could tip the balance.
        if self.observe is None and z + max(0.0, self.model[N_EVIDENCE - 1]) < self.join_logit:
            return None
        similarity = centroids.get(other.cluster_id)
        if similarity is None:
            similarity = 0.0
            if cluster is not None and cluster.norm2 > 0 and doc.norm > 0:
                similarity = cluster.dot(doc) / (doc.norm * sqrt(cluster.norm2))
            centroids[other.cluster_id] = similarity
        ev[N_EVIDENCE - 1] = similarity
        if self.observe is not None:
            self.observe(doc.story_id, other.story_id, tuple([ev[i] for i in range(N_EVIDENCE)]))
        z += self.model[N_EVIDENCE - 1] * ev[N_EVIDENCE - 1]
        cdef double probability = 1 / (1 + exp(-z)) if z > -50 else 0.0
        return ("similar", probability) if probability >= self.join_probability else None


cdef double _summary_overlap(Doc doc, Member other) noexcept:
    """The Jaccard overlap of two summaries' shingles; 0 unless both have the words a copy is judged on."""
    if doc.summary_words < SUMMARY_FLOOR or other.summary_words < SUMMARY_FLOOR:
        return 0.0
    if not doc.n_shingles or not other.n_shingles:
        return 0.0
    cdef Py_ssize_t i = 0, j = 0, shared = 0
    while i < doc.n_shingles and j < other.n_shingles:
        if doc.shingles[i] < other.shingles[j]:
            i += 1
        elif doc.shingles[i] > other.shingles[j]:
            j += 1
        else:
            shared += 1
            i += 1
            j += 1
    return shared / <double>(doc.n_shingles + other.n_shingles - shared)
