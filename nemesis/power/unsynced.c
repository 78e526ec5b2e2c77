// unsynced.so: an LD_PRELOAD shim that keeps an undo journal of every write a
// process has not made durable, so that the harness can take a killed node's
// files back to their last durable state: a power failure (the `power` fault,
// nemesis/power.ts; docs/power-faults.md).
//
// Before each write(2), pwrite(2), writev(2), pwritev(2)/pwritev2, ftruncate(2)
// and fallocate(2) to a regular file under $UNDERTOW_POWER_ROOT, the shim
// appends to its journal ($UNDERTOW_POWER_DIR/undo-PID.log) the file's old
// size and the old bytes of the range the call will change (an UNDO record).
// fsync(2) and fdatasync(2) of a file append a SYNC record: every record of
// that file made before the call began is durable. sync(2) and syncfs(2)
// append SYNCALL. A write through a descriptor opened with O_SYNC or O_DSYNC
// is durable when it returns: nothing is journaled, unless the file already
// has undo records (then UNDO before and REDO with the new bytes after, so
// that the durable bytes are put back after the older undos). sync_file_range
// and msync do not count (sync_file_range does not flush metadata or the
// disk's cache). The harness applies the journals (nemesis/power.ts,
// `rollBack`): drop the records covered by a later sync, undo the others
// newest first, then redo the durable writes oldest first.
//
// Not covered: writes through mmap, copy_file_range/sendfile/splice into a
// file, glibc's own internal writes (stdio's fwrite calls the internal
// __write), programs that make raw system calls (Go), io_uring (the harness
// sets UV_USE_IO_URING=0 for Node), and directory entries: creating,
// renaming and unlinking files (and open(O_TRUNC)) are kept as if durable; a
// file unlinked or replaced by a rename is gone, and so are its records (so
// that they never reach a later file with the same inode number).
//
// Records are appended with one write(2) each, through the real functions;
// a record cut short by the kill is ignored by the harness (the data write it
// guards had not started). One mutex per process orders the journal and the
// writes it guards, so another thread cannot change a range between the
// saving of its old bytes and the write.

#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#define MAGIC 0x554e4431u /* "UND1" */
enum { R_UNDO = 1, R_REDO = 2, R_SYNC = 3, R_SYNCALL = 4 };

// One record: this header, then `pathlen` bytes of the file's path (as this
// process sees it), then `len` bytes of data. 64 bytes, little-endian.
struct header {
  uint32_t magic;
  uint32_t type;
  uint64_t seq;     // per process, from 1
  uint64_t ts;      // CLOCK_MONOTONIC ns: orders records of different processes
  uint64_t dev;
  uint64_t ino;
  int64_t off;      // UNDO/REDO: where the data goes; SYNC/SYNCALL: the seq the sync covers (records before it)
  int64_t oldsize;  // UNDO: the size before the call; SYNC/SYNCALL: the ts the sync covers
  uint32_t pathlen;
  uint32_t len;
};

typedef ssize_t (*write_fn)(int, const void *, size_t);
typedef ssize_t (*pwrite_fn)(int, const void *, size_t, off_t);
typedef ssize_t (*writev_fn)(int, const struct iovec *, int);
typedef ssize_t (*pwritev_fn)(int, const struct iovec *, int, off_t);
typedef ssize_t (*pwritev2_fn)(int, const struct iovec *, int, off_t, int);
typedef int (*ftruncate_fn)(int, off_t);
typedef int (*fallocate_fn)(int, int, off_t, off_t);
typedef int (*fsync_fn)(int);
typedef void (*sync_fn)(void);
typedef int (*unlink_fn)(const char *);
typedef int (*unlinkat_fn)(int, const char *, int);
typedef int (*rename_fn)(const char *, const char *);
typedef int (*renameat_fn)(int, const char *, int, const char *);
typedef int (*renameat2_fn)(int, const char *, int, const char *, unsigned int);

static write_fn real_write;
static pwrite_fn real_pwrite64;
static writev_fn real_writev;
static pwritev_fn real_pwritev64;
static pwritev2_fn real_pwritev64v2;
static ftruncate_fn real_ftruncate64;
static fallocate_fn real_fallocate64;
static fsync_fn real_fsync, real_fdatasync, real_syncfs;
static sync_fn real_sync;
static unlink_fn real_unlink;
static unlinkat_fn real_unlinkat;
static rename_fn real_rename;
static renameat_fn real_renameat;
static renameat2_fn real_renameat2;

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_once_t once = PTHREAD_ONCE_INIT;
static char journal_dir[PATH_MAX];
static char root[PATH_MAX];
static size_t root_len;
static int enabled;
static int journal_fd = -1;
static pid_t journal_pid;
static uint64_t seq;

// Files with undo records since their last sync, in this process (open addressing).
#define PENDING 4096
static struct {
  uint64_t dev, ino, last_seq;
  int used;
} pending[PENDING];
static int pending_count;
static int pending_overflow;

static void init(void) {
  real_write = (write_fn)dlsym(RTLD_NEXT, "write");
  real_pwrite64 = (pwrite_fn)dlsym(RTLD_NEXT, "pwrite64");
  real_writev = (writev_fn)dlsym(RTLD_NEXT, "writev");
  real_pwritev64 = (pwritev_fn)dlsym(RTLD_NEXT, "pwritev64");
  real_pwritev64v2 = (pwritev2_fn)dlsym(RTLD_NEXT, "pwritev64v2");
  real_ftruncate64 = (ftruncate_fn)dlsym(RTLD_NEXT, "ftruncate64");
  real_fallocate64 = (fallocate_fn)dlsym(RTLD_NEXT, "fallocate64");
  real_fsync = (fsync_fn)dlsym(RTLD_NEXT, "fsync");
  real_fdatasync = (fsync_fn)dlsym(RTLD_NEXT, "fdatasync");
  real_syncfs = (fsync_fn)dlsym(RTLD_NEXT, "syncfs");
  real_sync = (sync_fn)dlsym(RTLD_NEXT, "sync");
  real_unlink = (unlink_fn)dlsym(RTLD_NEXT, "unlink");
  real_unlinkat = (unlinkat_fn)dlsym(RTLD_NEXT, "unlinkat");
  real_rename = (rename_fn)dlsym(RTLD_NEXT, "rename");
  real_renameat = (renameat_fn)dlsym(RTLD_NEXT, "renameat");
  real_renameat2 = (renameat2_fn)dlsym(RTLD_NEXT, "renameat2");
  const char *d = getenv("UNDERTOW_POWER_DIR");
  const char *r = getenv("UNDERTOW_POWER_ROOT");
  if (d != NULL && d[0] == '/' && strlen(d) < sizeof journal_dir - 32) {
    strcpy(journal_dir, d);
    enabled = 1;
  }
  if (r != NULL && strlen(r) < sizeof root) {
    strcpy(root, r);
    root_len = strlen(root);
    while (root_len > 1 && root[root_len - 1] == '/') root[--root_len] = '\0';
  }
}

static void die(const char *what) {
  // A journal that cannot be written would make the fault lie: stop the process instead.
  char msg[256];
  int n = snprintf(msg, sizeof msg, "undertow power shim: %s: %s\n", what, strerror(errno));
  if (real_write != NULL && n > 0) real_write(2, msg, (size_t)n);
  abort();
}

static uint64_t now_ns(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (uint64_t)t.tv_sec * 1000000000ull + (uint64_t)t.tv_nsec;
}

static int journal(void) {
  pid_t pid = getpid();
  if (journal_fd >= 0 && journal_pid == pid) return journal_fd;
  // A forked child writes a journal of its own (the parent's descriptor is not closed: it is the parent's).
  char path[PATH_MAX + 64];
  snprintf(path, sizeof path, "%s/undo-%d.log", journal_dir, (int)pid);
  int fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (fd < 0) die("cannot open the journal");
  journal_fd = fd;
  journal_pid = pid;
  seq = 0;
  pending_count = 0;
  pending_overflow = 0;
  memset(pending, 0, sizeof pending);
  return fd;
}

static void append_record(uint32_t type, const struct stat *st, const char *path, int64_t off, int64_t oldsize, const void *data, size_t len,
                          uint64_t cover_seq, uint64_t cover_ts) {
  int fd = journal();
  struct header h;
  memset(&h, 0, sizeof h);
  h.magic = MAGIC;
  h.type = type;
  h.seq = ++seq;
  h.ts = now_ns();
  if (st != NULL) {
    h.dev = (uint64_t)st->st_dev;
    h.ino = (uint64_t)st->st_ino;
  }
  h.off = type == R_SYNC || type == R_SYNCALL ? (int64_t)cover_seq : off;
  h.oldsize = type == R_SYNC || type == R_SYNCALL ? (int64_t)cover_ts : oldsize;
  h.pathlen = path != NULL ? (uint32_t)strlen(path) : 0;
  h.len = (uint32_t)len;
  struct iovec iov[3] = {{&h, sizeof h}, {(void *)path, h.pathlen}, {(void *)data, len}};
  size_t want = sizeof h + h.pathlen + len;
  ssize_t n = real_writev(fd, iov, 3);
  if (n < 0 || (size_t)n != want) die("cannot append to the journal");
}

static int pending_slot(const struct stat *st, int create) {
  uint64_t h = ((uint64_t)st->st_dev * 1000003u) ^ (uint64_t)st->st_ino;
  for (int i = 0; i < PENDING; i++) {
    int k = (int)((h + (uint64_t)i) % PENDING);
    if (pending[k].dev == (uint64_t)st->st_dev && pending[k].ino == (uint64_t)st->st_ino && (pending[k].used || pending[k].dev != 0 || pending[k].ino != 0)) {
      if (pending[k].used) return k;
      if (!create) return -1;
      pending[k].used = 1;  // the file's own tombstone, taken again
      pending_count++;
      return k;
    }
    if (!pending[k].used && pending[k].dev == 0 && pending[k].ino == 0) {
      if (!create) return -1;
      pending[k].used = 1;
      pending[k].dev = (uint64_t)st->st_dev;
      pending[k].ino = (uint64_t)st->st_ino;
      pending_count++;
      return k;
    }
  }
  if (create) pending_overflow = 1;
  return -1;
}

static void pending_mark(const struct stat *st) {
  int k = pending_slot(st, 1);
  if (k >= 0) pending[k].last_seq = seq;
}

/** The journal can start over when no file of this process has records left. */
static void maybe_reset_journal(void) {
  if (pending_count == 0 && !pending_overflow && journal_fd >= 0 && journal_pid == getpid()) {
    if (real_ftruncate64(journal_fd, 0) != 0) die("cannot truncate the journal");
    memset(pending, 0, sizeof pending);
  }
}

/** Does the shim journal writes to fd? Fills st and path when it does. */
static int tracked(int fd, struct stat *st, char *path) {
  pthread_once(&once, init);
  if (!enabled || fd < 0 || (journal_fd >= 0 && fd == journal_fd)) return 0;
  if (fstat(fd, st) != 0 || !S_ISREG(st->st_mode)) return 0;
  char link[64];
  snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
  ssize_t n = readlink(link, path, PATH_MAX - 1);
  if (n <= 0) return 0;
  path[n] = '\0';
  if (root_len > 0 && !(strncmp(path, root, root_len) == 0 && (path[root_len] == '/' || path[root_len] == '\0'))) return 0;
  if (strncmp(path, journal_dir, strlen(journal_dir)) == 0 && path[strlen(journal_dir)] == '/') return 0;
  return 1;
}

static int durable_fd(int fd) {
  int fl = fcntl(fd, F_GETFL);
  return fl >= 0 && (fl & O_DSYNC) != 0;
}

/** Reads [off, off+len) of the file behind fd into a new buffer (a write-only fd is reopened for reading). */
static char *old_bytes(int fd, off_t off, size_t len) {
  char *buf = malloc(len > 0 ? len : 1);
  if (buf == NULL) die("out of memory");
  size_t got = 0;
  int rfd = fd, own = 0;
  while (got < len) {
    ssize_t n = pread(rfd, buf + got, len - got, off + (off_t)got);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && errno == EBADF && !own) {
      char link[64];
      snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
      rfd = open(link, O_RDONLY | O_CLOEXEC);
      if (rfd < 0) die("cannot read the old bytes of a write-only file");
      own = 1;
      continue;
    }
    if (n < 0) die("cannot read the old bytes of a file");
    if (n == 0) break;  // the file is shorter than it was a moment ago: the rest is past its end
    got += (size_t)n;
  }
  if (own) close(rfd);
  if (got < len) memset(buf + got, 0, len - got);
  return buf;
}

/** Journals the old state of [off, off+len) (and the old size) before a call that changes it. */
static void save_range(const struct stat *st, const char *path, int fd, off_t off, off_t len) {
  off_t size = st->st_size;
  off_t end = off + len < size ? off + len : size;
  size_t keep = off < end ? (size_t)(end - off) : 0;
  char *old = keep > 0 ? old_bytes(fd, off, keep) : NULL;
  append_record(R_UNDO, st, path, off, size, old, keep, 0, 0);
  free(old);
  pending_mark(st);
}

struct guard {
  int on;        // journaled: the lock is held
  int redo;      // a durable write to a file with records: REDO after it
  struct stat st;
  char path[PATH_MAX];
  off_t off;
};

/** Before a write of len bytes at off (-1: at the file position, or the end with O_APPEND). */
static void before_write(struct guard *g, int fd, off_t off, size_t len, int durable) {
  g->on = 0;
  g->redo = 0;
  if (!tracked(fd, &g->st, g->path)) return;
  pthread_mutex_lock(&lock);
  g->on = 1;
  journal();
  if (fstat(fd, &g->st) != 0) die("fstat");
  if (off < 0) {
    int fl = fcntl(fd, F_GETFL);
    off = fl >= 0 && (fl & O_APPEND) ? g->st.st_size : lseek(fd, 0, SEEK_CUR);
    if (off < 0) off = g->st.st_size;
  }
  g->off = off;
  if (durable || durable_fd(fd)) {
    if (pending_slot(&g->st, 0) < 0) return;  // nothing to undo before it: the write is simply durable
    g->redo = 1;
  }
  save_range(&g->st, g->path, fd, off, (off_t)len);
}

static void after_write(struct guard *g, const struct iovec *iov, int iovcnt, ssize_t n) {
  if (!g->on) return;
  if (g->redo && n > 0) {
    char *buf = malloc((size_t)n);
    if (buf == NULL) die("out of memory");
    size_t at = 0;
    for (int i = 0; i < iovcnt && at < (size_t)n; i++) {
      size_t take = iov[i].iov_len < (size_t)n - at ? iov[i].iov_len : (size_t)n - at;
      memcpy(buf + at, iov[i].iov_base, take);
      at += take;
    }
    append_record(R_REDO, &g->st, g->path, g->off, 0, buf, (size_t)n, 0, 0);
    free(buf);
    pending_mark(&g->st);
  }
  pthread_mutex_unlock(&lock);
}

static size_t iov_total(const struct iovec *iov, int iovcnt) {
  size_t t = 0;
  for (int i = 0; i < iovcnt; i++) t += iov[i].iov_len;
  return t;
}

// --- the interposed calls ---------------------------------------------------------

ssize_t write(int fd, const void *buf, size_t count) {
  pthread_once(&once, init);
  struct guard g;
  before_write(&g, fd, -1, count, 0);
  ssize_t n = real_write(fd, buf, count);
  int e = errno;
  struct iovec v = {(void *)buf, count};
  after_write(&g, &v, 1, n);
  errno = e;
  return n;
}

ssize_t pwrite64(int fd, const void *buf, size_t count, off_t off) {
  pthread_once(&once, init);
  struct guard g;
  before_write(&g, fd, off, count, 0);
  ssize_t n = real_pwrite64(fd, buf, count, off);
  int e = errno;
  struct iovec v = {(void *)buf, count};
  after_write(&g, &v, 1, n);
  errno = e;
  return n;
}
ssize_t pwrite(int fd, const void *buf, size_t count, off_t off) { return pwrite64(fd, buf, count, off); }

ssize_t writev(int fd, const struct iovec *iov, int iovcnt) {
  pthread_once(&once, init);
  struct guard g;
  before_write(&g, fd, -1, iov_total(iov, iovcnt), 0);
  ssize_t n = real_writev(fd, iov, iovcnt);
  int e = errno;
  after_write(&g, iov, iovcnt, n);
  errno = e;
  return n;
}

ssize_t pwritev64(int fd, const struct iovec *iov, int iovcnt, off_t off) {
  pthread_once(&once, init);
  struct guard g;
  before_write(&g, fd, off, iov_total(iov, iovcnt), 0);
  ssize_t n = real_pwritev64(fd, iov, iovcnt, off);
  int e = errno;
  after_write(&g, iov, iovcnt, n);
  errno = e;
  return n;
}
ssize_t pwritev(int fd, const struct iovec *iov, int iovcnt, off_t off) { return pwritev64(fd, iov, iovcnt, off); }

ssize_t pwritev64v2(int fd, const struct iovec *iov, int iovcnt, off_t off, int flags) {
  pthread_once(&once, init);
  struct guard g;
  // RWF_DSYNC/RWF_SYNC make this one write durable, as O_DSYNC does.
  before_write(&g, fd, off, iov_total(iov, iovcnt), (flags & (RWF_DSYNC | RWF_SYNC)) != 0);
  ssize_t n = real_pwritev64v2(fd, iov, iovcnt, off, flags);
  int e = errno;
  after_write(&g, iov, iovcnt, n);
  errno = e;
  return n;
}
ssize_t pwritev2(int fd, const struct iovec *iov, int iovcnt, off_t off, int flags) { return pwritev64v2(fd, iov, iovcnt, off, flags); }

int ftruncate64(int fd, off_t length) {
  pthread_once(&once, init);
  struct stat st;
  char path[PATH_MAX];
  if (!tracked(fd, &st, path)) return real_ftruncate64(fd, length);
  pthread_mutex_lock(&lock);
  journal();
  if (fstat(fd, &st) != 0) die("fstat");
  // A truncation is metadata: not durable before an fsync, O_DSYNC or not.
  if (length < st.st_size) save_range(&st, path, fd, length, st.st_size - length);
  else if (length > st.st_size) save_range(&st, path, fd, st.st_size, 0);
  int r = real_ftruncate64(fd, length);
  int e = errno;
  pthread_mutex_unlock(&lock);
  errno = e;
  return r;
}
int ftruncate(int fd, off_t length) { return ftruncate64(fd, length); }

int fallocate64(int fd, int mode, off_t off, off_t len) {
  pthread_once(&once, init);
  struct stat st;
  char path[PATH_MAX];
  if (!tracked(fd, &st, path)) return real_fallocate64(fd, mode, off, len);
  pthread_mutex_lock(&lock);
  journal();
  if (fstat(fd, &st) != 0) die("fstat");
  save_range(&st, path, fd, off, len);
  int r = real_fallocate64(fd, mode, off, len);
  int e = errno;
  pthread_mutex_unlock(&lock);
  errno = e;
  return r;
}
int fallocate(int fd, int mode, off_t off, off_t len) { return fallocate64(fd, mode, off, len); }

/** fsync/fdatasync: what this file had before the call began is durable once it returns 0. */
static int sync_one(int fd, fsync_fn real) {
  pthread_once(&once, init);
  struct stat st;
  char path[PATH_MAX];
  if (!tracked(fd, &st, path)) return real(fd);
  pthread_mutex_lock(&lock);
  journal();
  uint64_t cover_seq = seq + 1, cover_ts = now_ns();
  pthread_mutex_unlock(&lock);
  int r = real(fd);
  int e = errno;
  if (r == 0) {
    pthread_mutex_lock(&lock);
    int k = pending_slot(&st, 0);
    // A record of another process may be pending too (a node killed and restarted): always say so.
    append_record(R_SYNC, &st, NULL, 0, 0, NULL, 0, cover_seq, cover_ts);
    if (k >= 0 && pending[k].last_seq < cover_seq) {
      pending[k].used = 0;  // a tombstone (dev/ino kept), so that probing goes on past it
      pending_count--;
    }
    maybe_reset_journal();
    pthread_mutex_unlock(&lock);
  }
  errno = e;
  return r;
}

int fsync(int fd) { return sync_one(fd, real_fsync); }
int fdatasync(int fd) { return sync_one(fd, real_fdatasync); }

static void sync_all_after(uint64_t cover_seq, uint64_t cover_ts) {
  pthread_mutex_lock(&lock);
  append_record(R_SYNCALL, NULL, NULL, 0, 0, NULL, 0, cover_seq, cover_ts);
  int all = 1;
  for (int k = 0; k < PENDING; k++) {
    if (!pending[k].used) continue;
    if (pending[k].last_seq < cover_seq) {
      pending[k].used = 0;
      pending_count--;
    } else {
      all = 0;
    }
  }
  if (all) pending_overflow = 0;
  maybe_reset_journal();
  pthread_mutex_unlock(&lock);
}

void sync(void) {
  pthread_once(&once, init);
  if (!enabled) return real_sync();
  pthread_mutex_lock(&lock);
  journal();
  uint64_t cover_seq = seq + 1, cover_ts = now_ns();
  pthread_mutex_unlock(&lock);
  real_sync();
  sync_all_after(cover_seq, cover_ts);
}

int syncfs(int fd) {
  pthread_once(&once, init);
  if (!enabled) return real_syncfs(fd);
  pthread_mutex_lock(&lock);
  journal();
  uint64_t cover_seq = seq + 1, cover_ts = now_ns();
  pthread_mutex_unlock(&lock);
  int r = real_syncfs(fd);
  int e = errno;
  if (r == 0) sync_all_after(cover_seq, cover_ts);  // every file system counts as synced (a node's data is on one)
  errno = e;
  return r;
}

// --- files that go away ------------------------------------------------------------
//
// Directory entries are kept as if durable (see the top), so a file unlinked, or replaced by a
// rename over it, is gone for good: its records are dropped (a SYNC record for its inode), so
// that they can never be applied to a later file that gets the same inode number.

struct doomed {
  int on;
  struct stat st;
};

/** Before path (relative to dirfd) goes away; `from`: the file renamed onto it (the same file: nothing goes). */
static void before_removal(struct doomed *d, int dirfd, const char *path, int fromfd, const char *from) {
  d->on = 0;
  pthread_once(&once, init);
  if (!enabled || path == NULL) return;
  if (fstatat(dirfd, path, &d->st, AT_SYMLINK_NOFOLLOW) != 0 || !S_ISREG(d->st.st_mode) || d->st.st_nlink != 1) return;
  struct stat src;
  if (from != NULL && fstatat(fromfd, from, &src, AT_SYMLINK_NOFOLLOW) == 0 && src.st_dev == d->st.st_dev && src.st_ino == d->st.st_ino) return;
  pthread_mutex_lock(&lock);
  d->on = 1;
}

static void after_removal(struct doomed *d, int ok) {
  if (!d->on) return;
  if (ok) {
    journal();
    int k = pending_slot(&d->st, 0);
    append_record(R_SYNC, &d->st, NULL, 0, 0, NULL, 0, seq + 1, now_ns());
    if (k >= 0) {
      pending[k].used = 0;
      pending_count--;
    }
    maybe_reset_journal();
  }
  pthread_mutex_unlock(&lock);
}

int unlink(const char *path) {
  struct doomed d;
  before_removal(&d, AT_FDCWD, path, AT_FDCWD, NULL);
  int r = real_unlink(path);
  int e = errno;
  after_removal(&d, r == 0);
  errno = e;
  return r;
}

int unlinkat(int dirfd, const char *path, int flags) {
  struct doomed d;
  if (flags & AT_REMOVEDIR) {
    pthread_once(&once, init);
    return real_unlinkat(dirfd, path, flags);
  }
  before_removal(&d, dirfd, path, AT_FDCWD, NULL);
  int r = real_unlinkat(dirfd, path, flags);
  int e = errno;
  after_removal(&d, r == 0);
  errno = e;
  return r;
}

int rename(const char *from, const char *to) {
  struct doomed d;
  before_removal(&d, AT_FDCWD, to, AT_FDCWD, from);
  int r = real_rename(from, to);
  int e = errno;
  after_removal(&d, r == 0);
  errno = e;
  return r;
}

int renameat(int fromfd, const char *from, int tofd, const char *to) {
  struct doomed d;
  before_removal(&d, tofd, to, fromfd, from);
  int r = real_renameat(fromfd, from, tofd, to);
  int e = errno;
  after_removal(&d, r == 0);
  errno = e;
  return r;
}

int renameat2(int fromfd, const char *from, int tofd, const char *to, unsigned int flags) {
  struct doomed d;
  // RENAME_EXCHANGE keeps both files; RENAME_NOREPLACE fails if the target exists.
  before_removal(&d, tofd, (flags & RENAME_EXCHANGE) ? NULL : to, fromfd, from);
  int r = real_renameat2(fromfd, from, tofd, to, flags);
  int e = errno;
  after_removal(&d, r == 0);
  errno = e;
  return r;
}
