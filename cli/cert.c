/*
 * cert.c - `lagrange cert`: the certificates that identify lagrange nodes
 * to each other (lagranged(8): peer sessions are TLS 1.3 with mutual
 * certificates, and a node's identity is its certificate's name).
 *
 *   lagrange cert ca --out DIR        a CA: DIR/ca.key + self-signed DIR/ca.crt
 *   lagrange cert node NAME --ca DIR --out DIR
 *                                     DIR/NAME.key + NAME.crt signed by the CA,
 *                                     CN=NAME and subjectAltName DNS:NAME
 *
 * Keys are EC P-256 (fast handshakes on small flight computers, short
 * certificates on slow uplinks), PKCS#8 PEM, unencrypted: the daemon
 * starts unattended. They are written with mode 0600 through a temporary
 * file and link(2), so an existing file is never overwritten unless
 * --force is given (then rename(2) replaces it atomically).
 *
 * Node certificates carry both serverAuth and clientAuth: in a session
 * either side may have dialled. Validity starts 5 minutes in the past, for
 * clocks that disagree a little, and a node's never outlasts its CA's.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "cli.h"

#define CERT_NAME_MAX 47          /* as node names (lagrange-topology(5)) */
#define CERT_CA_DAYS 3650
#define CERT_NODE_DAYS 365
#define CERT_MAX_DAYS 36500
#define CERT_BACKDATE_S 300

static void help(FILE *f)
{
    fprintf(f,
"usage: lagrange cert ca --out DIR [--name NAME] [--days N] [--force]\n"
"       lagrange cert node NAME --ca DIR --out DIR [--san HOST|IP]...\n"
"                          [--days N] [--force]\n\n"
"Make the certificates that lagrange nodes use to recognise each other.\n"
"'ca' creates a certificate authority: DIR/ca.key (EC P-256, mode 0600)\n"
"and a self-signed DIR/ca.crt, CN=NAME (default lagrange-ca), valid for\n"
"N days (default 3650). 'node' creates DIR/NAME.key and DIR/NAME.crt,\n"
"signed by the CA in the --ca directory, with CN=NAME and subjectAltName\n"
"DNS:NAME, valid for N days (default 365, never past the CA's end). NAME\n"
"is the node's name in the topology: lagranged refuses a peer whose\n"
"certificate names another node. --san adds a host name or an IP address\n"
"to subjectAltName (after DNS:NAME), so that remote gRPC clients can\n"
"reach the API listener (ApiListen) by that name or address.\n\n"
"  --out DIR   where to write (created, mode 0700, if missing)\n"
"  --ca DIR    the directory holding ca.key and ca.crt\n"
"  --name NAME the CA's common name\n"
"  --days N    validity in days, 1-36500\n"
"  --san X     node only, repeatable (at most 8): DNS:X, or IP:X for an\n"
"              IPv4 or IPv6 address\n"
"  --force     replace existing files\n\n"
"Names are 1-47 characters of A-Z a-z 0-9 . _ -.\n"
"Exit status: 0 ok, 1 failure (a file exists, I/O, crypto), 2 usage,\n"
"3 unusable CA files.\n");
}

static int valid_name(const char *s)
{
    size_t n = strlen(s);
    if (n < 1 || n > CERT_NAME_MAX)
        return 0;
    for (; *s; s++)
        if (!((*s >= 'A' && *s <= 'Z') || (*s >= 'a' && *s <= 'z') ||
              (*s >= '0' && *s <= '9') || *s == '.' || *s == '_' ||
              *s == '-'))
            return 0;
    return 1;
}

/* "lagrange cert: what: <OpenSSL's reason>". */
static int ssl_fail(const char *what)
{
    unsigned long e = ERR_get_error();
    char buf[256] = "unknown error";
    if (e)
        ERR_error_string_n(e, buf, sizeof buf);
    ERR_clear_error();
    cli_err("cert", "%s: %s", what, buf);
    return EXIT_FAIL;
}

static char *join(const char *dir, const char *name, const char *ext)
{
    size_t n = strlen(dir) + strlen(name) + strlen(ext) + 2;
    char *p = malloc(n);
    if (p)
        snprintf(p, n, "%s/%s%s", dir, name, ext);
    return p;
}

/* mkdir -p, mode 0700 for what is created: it will hold private keys. */
static int make_dir(const char *dir)
{
    char *p = strdup(dir);
    int rc = EXIT_OK;
    if (!p) {
        cli_err("cert", "out of memory");
        return EXIT_FAIL;
    }
    for (char *q = p + 1;; q++) {
        if (*q == '/' || *q == '\0') {
            char c = *q;
            *q = '\0';
            if (mkdir(p, 0700) < 0 && errno != EEXIST) {
                cli_err("cert", "cannot create %s: %s", p, strerror(errno));
                rc = EXIT_FAIL;
                break;
            }
            *q = c;
            if (!c)
                break;
        }
    }
    free(p);
    return rc;
}

/* Write data to path with mode, never replacing an existing file unless
 * force. Returns an exit code. */
static int write_file(const char *path, const void *data, size_t len,
                      mode_t mode, int force)
{
    size_t n = strlen(path) + 16;
    char *tmp = malloc(n);
    const char *slash = strrchr(path, '/');
    int fd, rc = EXIT_OK;
    if (!tmp) {
        cli_err("cert", "out of memory");
        return EXIT_FAIL;
    }
    /* DIR/.NAME.XXXXXX: same directory, so link/rename stay atomic. */
    snprintf(tmp, n, "%.*s.%s.XXXXXX", (int)(slash - path + 1), path,
             slash + 1);
    if ((fd = mkstemp(tmp)) < 0) {
        cli_err("cert", "cannot create a file in the directory of %s: %s",
                path, strerror(errno));
        free(tmp);
        return EXIT_FAIL;
    }
    if (fchmod(fd, mode) < 0 || write(fd, data, len) != (ssize_t)len ||
        fsync(fd) < 0) {
        cli_err("cert", "writing %s: %s", path, strerror(errno));
        rc = EXIT_FAIL;
    }
    if (close(fd) < 0 && rc == EXIT_OK) {
        cli_err("cert", "writing %s: %s", path, strerror(errno));
        rc = EXIT_FAIL;
    }
    if (rc == EXIT_OK) {
        if (force ? rename(tmp, path) < 0 : link(tmp, path) < 0) {
            cli_err("cert", "%s: %s%s", path, strerror(errno),
                    errno == EEXIST ? " (use --force to replace it)" : "");
            rc = EXIT_FAIL;
        }
    }
    if (!force || rc != EXIT_OK)
        unlink(tmp);
    free(tmp);
    return rc;
}

/* Refuse before generating anything if a file is in the way. */
static int check_free(const char *path, int force)
{
    struct stat st;
    if (!force && lstat(path, &st) == 0) {
        cli_err("cert", "%s exists (use --force to replace it)", path);
        return EXIT_FAIL;
    }
    return EXIT_OK;
}

static int pem_key(EVP_PKEY *k, BUF_MEM **out, BIO **bio)
{
    *bio = BIO_new(BIO_s_mem());
    if (!*bio || !PEM_write_bio_PrivateKey(*bio, k, NULL, NULL, 0, NULL, NULL))
        return -1;
    BIO_get_mem_ptr(*bio, out);
    return 0;
}

static int pem_cert(X509 *x, BUF_MEM **out, BIO **bio)
{
    *bio = BIO_new(BIO_s_mem());
    if (!*bio || !PEM_write_bio_X509(*bio, x))
        return -1;
    BIO_get_mem_ptr(*bio, out);
    return 0;
}

/* Write key then certificate; if the certificate cannot be written, the
 * key just created goes too. */
static int write_pair(const char *keypath, EVP_PKEY *k, const char *crtpath,
                      X509 *x, int force)
{
    BUF_MEM *mk = NULL, *mc = NULL;
    BIO *bk = NULL, *bc = NULL;
    int rc;
    if (pem_key(k, &mk, &bk) < 0 || pem_cert(x, &mc, &bc) < 0) {
        rc = ssl_fail("encoding PEM");
    } else if ((rc = write_file(keypath, mk->data, mk->length, 0600,
                                force)) == EXIT_OK &&
               (rc = write_file(crtpath, mc->data, mc->length, 0644,
                                force)) != EXIT_OK) {
        unlink(keypath);
    }
    BIO_free(bk);
    BIO_free(bc);
    return rc;
}

static int add_ext(X509 *x, X509 *issuer, int nid, const char *value)
{
    X509V3_CTX ctx;
    X509_EXTENSION *e;
    int ok;
    X509V3_set_ctx_nodb(&ctx);
    X509V3_set_ctx(&ctx, issuer, x, NULL, NULL, 0);
    if (!(e = X509V3_EXT_conf_nid(NULL, &ctx, nid, value)))
        return -1;
    ok = X509_add_ext(x, e, -1);
    X509_EXTENSION_free(e);
    return ok ? 0 : -1;
}

/* A v3 certificate for key with CN=cn, valid from now - 5 min for days,
 * signed by issuer_key (issuer NULL: self-signed). */
#define CERT_MAX_SANS 8
#define CERT_SAN_MAX (16 + CERT_NAME_MAX + CERT_MAX_SANS * 72)

/* ",DNS:x" or ",IP:x" appended to out for --san x; -1 if x is neither a
 * host name (1-63 characters per label of A-Z a-z 0-9 -, dots between,
 * at most 253) nor an IP address. */
static int san_add(char *out, size_t cap, const char *x)
{
    unsigned char ip[16];
    size_t n = strlen(x), lab = 0;
    int host = n > 0 && n <= 253 && x[0] != '.' && x[n - 1] != '.';
    if (inet_pton(AF_INET, x, ip) == 1 || inet_pton(AF_INET6, x, ip) == 1) {
        snprintf(out + strlen(out), cap - strlen(out), ",IP:%s", x);
        return 0;
    }
    for (size_t i = 0; host && i < n; i++) {
        char c = x[i];
        if (c == '.') {
            host = lab > 0;
            lab = 0;
        } else {
            host = (isalnum((unsigned char)c) || c == '-') && ++lab <= 63;
        }
    }
    if (!host || strlen(out) + n + 6 >= cap)
        return -1;
    snprintf(out + strlen(out), cap - strlen(out), ",DNS:%s", x);
    return 0;
}

static X509 *make_cert(EVP_PKEY *key, const char *cn, X509 *issuer,
                       EVP_PKEY *issuer_key, int days, int ca,
                       const char *extra_san)
{
    X509 *x = X509_new();
    X509_NAME *name = X509_NAME_new();
    unsigned char sn[16];
    BIGNUM *bn = NULL;
    int ok = 0;
    char san[CERT_SAN_MAX];

    if (!x || !name || RAND_bytes(sn, sizeof sn) != 1)
        goto out;
    sn[0] &= 0x7f;               /* positive, 16 bytes: RFC 5280 */
    sn[0] |= 0x40;
    if (!(bn = BN_bin2bn(sn, sizeof sn, NULL)) ||
        !BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(x)) ||
        !X509_set_version(x, 2) ||
        !X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                                    (const unsigned char *)cn, -1, -1, 0) ||
        !X509_set_subject_name(x, name) ||
        !X509_set_issuer_name(x, issuer ? X509_get_subject_name(issuer)
                                        : name) ||
        !X509_gmtime_adj(X509_getm_notBefore(x), -CERT_BACKDATE_S) ||
        !X509_time_adj_ex(X509_getm_notAfter(x), days, 0, NULL) ||
        !X509_set_pubkey(x, key))
        goto out;
    if (issuer &&
        ASN1_TIME_compare(X509_get0_notAfter(x), X509_get0_notAfter(issuer)) >
            0) {
        if (!X509_set1_notAfter(x, X509_get0_notAfter(issuer)))
            goto out;
        fprintf(stderr, "lagrange cert: note: validity shortened to the "
                "CA's end\n");
    }
    snprintf(san, sizeof san, "DNS:%s%s", cn, extra_san ? extra_san : "");
    if (add_ext(x, issuer ? issuer : x, NID_basic_constraints,
                ca ? "critical,CA:TRUE,pathlen:0" : "critical,CA:FALSE") < 0 ||
        add_ext(x, issuer ? issuer : x, NID_key_usage,
                ca ? "critical,keyCertSign,cRLSign"
                   : "critical,digitalSignature") < 0 ||
        add_ext(x, issuer ? issuer : x, NID_subject_key_identifier, "hash") <
            0 ||
        (!ca && add_ext(x, issuer, NID_ext_key_usage,
                        "serverAuth,clientAuth") < 0) ||
        (!ca && add_ext(x, issuer, NID_subject_alt_name, san) < 0) ||
        (issuer && add_ext(x, issuer, NID_authority_key_identifier,
                           "keyid:always") < 0))
        goto out;
    if (!X509_sign(x, issuer_key, EVP_sha256()))
        goto out;
    ok = 1;
out:
    BN_free(bn);
    X509_NAME_free(name);
    if (!ok) {
        X509_free(x);
        return NULL;
    }
    return x;
}

static void print_made(const char *keypath, const char *crtpath, X509 *x)
{
    char until[64] = "?";
    BIO *b = BIO_new(BIO_s_mem());
    if (b && ASN1_TIME_print(b, X509_get0_notAfter(x))) {
        int n = BIO_read(b, until, sizeof until - 1);
        until[n > 0 ? n : 0] = '\0';
    }
    BIO_free(b);
    printf("wrote %s (mode 0600) and %s, valid until %s\n", keypath, crtpath,
           until);
}

static int parse_days(const char *s, int *days)
{
    char *end;
    long v = strtol(s, &end, 10);
    if (!*s || *end || v < 1 || v > CERT_MAX_DAYS) {
        cli_err("cert", "--days must be a whole number from 1 to %d, got '%s'",
                CERT_MAX_DAYS, s);
        return EXIT_USAGE;
    }
    *days = (int)v;
    return EXIT_OK;
}

static int cert_ca(const char *out, const char *name, int days, int force)
{
    char *keypath = join(out, "ca", ".key"), *crtpath = join(out, "ca", ".crt");
    EVP_PKEY *k = NULL;
    X509 *x = NULL;
    int rc;
    if (!keypath || !crtpath) {
        cli_err("cert", "out of memory");
        rc = EXIT_FAIL;
    } else if ((rc = make_dir(out)) == EXIT_OK &&
               (rc = check_free(keypath, force)) == EXIT_OK &&
               (rc = check_free(crtpath, force)) == EXIT_OK) {
        if (!(k = EVP_EC_gen("P-256")))
            rc = ssl_fail("generating a P-256 key");
        else if (!(x = make_cert(k, name, NULL, k, days, 1, NULL)))
            rc = ssl_fail("making the CA certificate");
        else if ((rc = write_pair(keypath, k, crtpath, x, force)) == EXIT_OK)
            print_made(keypath, crtpath, x);
    }
    X509_free(x);
    EVP_PKEY_free(k);
    free(keypath);
    free(crtpath);
    return rc;
}

/* Read DIR/ca.key and DIR/ca.crt; check that they belong together and
 * that the certificate may sign. */
static int load_ca(const char *dir, EVP_PKEY **key, X509 **crt)
{
    char *kp = join(dir, "ca", ".key"), *cp = join(dir, "ca", ".crt");
    FILE *f;
    int rc = EXIT_OK;
    *key = NULL;
    *crt = NULL;
    if (!kp || !cp) {
        cli_err("cert", "out of memory");
        rc = EXIT_FAIL;
        goto out;
    }
    if (!(f = fopen(kp, "r"))) {
        cli_err("cert", "%s: %s", kp, strerror(errno));
        rc = EXIT_FAIL;
        goto out;
    }
    *key = PEM_read_PrivateKey(f, NULL, NULL, NULL);
    fclose(f);
    if (!*key) {
        ERR_clear_error();
        cli_err("cert", "%s: not a PEM private key", kp);
        rc = EXIT_DATA;
        goto out;
    }
    if (!(f = fopen(cp, "r"))) {
        cli_err("cert", "%s: %s", cp, strerror(errno));
        rc = EXIT_FAIL;
        goto out;
    }
    *crt = PEM_read_X509(f, NULL, NULL, NULL);
    fclose(f);
    if (!*crt) {
        ERR_clear_error();
        cli_err("cert", "%s: not a PEM certificate", cp);
        rc = EXIT_DATA;
    } else if (X509_check_private_key(*crt, *key) != 1) {
        ERR_clear_error();
        cli_err("cert", "%s does not belong to %s", kp, cp);
        rc = EXIT_DATA;
    } else if (X509_check_ca(*crt) < 1) {
        cli_err("cert", "%s is not a CA certificate", cp);
        rc = EXIT_DATA;
    }
out:
    free(kp);
    free(cp);
    return rc;
}

static int cert_node(const char *name, const char *cadir, const char *out,
                     int days, int force, const char *sans)
{
    char *keypath = join(out, name, ".key"), *crtpath = join(out, name, ".crt");
    EVP_PKEY *cak = NULL, *k = NULL;
    X509 *cac = NULL, *x = NULL;
    int rc;
    struct stat so, sc;
    if (!keypath || !crtpath) {
        cli_err("cert", "out of memory");
        rc = EXIT_FAIL;
    } else if (!strcmp(name, "ca") && stat(out, &so) == 0 &&
               stat(cadir, &sc) == 0 && so.st_dev == sc.st_dev &&
               so.st_ino == sc.st_ino) {
        cli_err("cert", "a node named 'ca' in the CA's directory would "
                "replace ca.key and ca.crt; choose another --out");
        rc = EXIT_USAGE;
    } else if ((rc = load_ca(cadir, &cak, &cac)) == EXIT_OK &&
               (rc = make_dir(out)) == EXIT_OK &&
               (rc = check_free(keypath, force)) == EXIT_OK &&
               (rc = check_free(crtpath, force)) == EXIT_OK) {
        if (!(k = EVP_EC_gen("P-256")))
            rc = ssl_fail("generating a P-256 key");
        else if (!(x = make_cert(k, name, cac, cak, days, 0, sans)))
            rc = ssl_fail("making the node certificate");
        else if ((rc = write_pair(keypath, k, crtpath, x, force)) == EXIT_OK)
            print_made(keypath, crtpath, x);
    }
    X509_free(x);
    X509_free(cac);
    EVP_PKEY_free(k);
    EVP_PKEY_free(cak);
    free(keypath);
    free(crtpath);
    return rc;
}

int cmd_cert(int argc, char **argv)
{
    static const struct option opts[] = {
        { "out", required_argument, 0, 'o' },
        { "ca", required_argument, 0, 'c' },
        { "name", required_argument, 0, 'N' },
        { "days", required_argument, 0, 'd' },
        { "force", no_argument, 0, 'f' },
        { "san", required_argument, 0, 's' },
        { "help", no_argument, 0, 'h' },
        { 0, 0, 0, 0 },
    };
    const char *out = NULL, *ca = NULL, *name = NULL, *what, *node = NULL;
    int c, days = 0, force = 0, rc, n_sans = 0;
    char sans[CERT_SAN_MAX] = "";

    optind = 1;
    while ((c = getopt_long(argc, argv, "o:c:N:d:fhs:", opts, NULL)) != -1) {
        switch (c) {
        case 's':
            if (++n_sans > CERT_MAX_SANS) {
                cli_err("cert", "more than %d --san", CERT_MAX_SANS);
                return EXIT_USAGE;
            }
            if (san_add(sans, sizeof sans, optarg) < 0) {
                cli_err("cert", "--san '%s' is neither a host name nor an "
                        "IP address", optarg);
                return EXIT_USAGE;
            }
            break;
        case 'o': out = optarg; break;
        case 'c': ca = optarg; break;
        case 'N': name = optarg; break;
        case 'd':
            if ((rc = parse_days(optarg, &days)) != EXIT_OK)
                return rc;
            break;
        case 'f': force = 1; break;
        case 'h': help(stdout); return EXIT_OK;
        default: help(stderr); return EXIT_USAGE;
        }
    }
    if (optind >= argc) {
        cli_err("cert", "say 'ca' or 'node NAME'");
        help(stderr);
        return EXIT_USAGE;
    }
    what = argv[optind++];
    if (!strcmp(what, "node") && optind < argc)
        node = argv[optind++];
    if (optind != argc) {
        cli_err("cert", "unexpected argument '%s'", argv[optind]);
        return EXIT_USAGE;
    }
    if (!out) {
        cli_err("cert", "--out DIR is required");
        return EXIT_USAGE;
    }
    if (!strcmp(what, "ca")) {
        if (ca || n_sans) {
            cli_err("cert", "%s is for 'cert node'", ca ? "--ca" : "--san");
            return EXIT_USAGE;
        }
        if (!name)
            name = "lagrange-ca";
        if (!valid_name(name)) {
            cli_err("cert", "bad CA name '%s' (1-%d characters of A-Z a-z "
                    "0-9 . _ -)", name, CERT_NAME_MAX);
            return EXIT_USAGE;
        }
        return cert_ca(out, name, days ? days : CERT_CA_DAYS, force);
    }
    if (!strcmp(what, "node")) {
        if (!node) {
            cli_err("cert", "'cert node' needs the node's NAME");
            return EXIT_USAGE;
        }
        if (name) {
            cli_err("cert", "--name is for 'cert ca'; the node's name is "
                    "NAME");
            return EXIT_USAGE;
        }
        if (!valid_name(node)) {
            cli_err("cert", "bad node name '%s' (1-%d characters of A-Z a-z "
                    "0-9 . _ -)", node, CERT_NAME_MAX);
            return EXIT_USAGE;
        }
        if (!ca) {
            cli_err("cert", "--ca DIR is required (the directory of ca.key "
                    "and ca.crt)");
            return EXIT_USAGE;
        }
        return cert_node(node, ca, out, days ? days : CERT_NODE_DAYS, force,
                         sans);
    }
    cli_err("cert", "unknown cert command '%s' (ca or node)", what);
    return EXIT_USAGE;
}
