#ifndef CCURL_SHIM_H
#define CCURL_SHIM_H
#include <curl/curl.h>

/* curl_easy_setopt/curl_easy_getinfo are variadic: typed, non-variadic wrappers for Swift. */
static inline CURLcode ccurl_setopt_long(CURL *h, CURLoption o, long v) {
    return curl_easy_setopt(h, o, v);
}
static inline CURLcode ccurl_setopt_string(CURL *h, CURLoption o, const char *v) {
    return curl_easy_setopt(h, o, v);
}
static inline CURLcode ccurl_setopt_pointer(CURL *h, CURLoption o, void *v) {
    return curl_easy_setopt(h, o, v);
}
static inline CURLcode ccurl_getinfo_long(CURL *h, CURLINFO i, long *out) {
    return curl_easy_getinfo(h, i, out);
}
static inline CURLcode ccurl_setopt_off(CURL *h, CURLoption o, curl_off_t v) {
    return curl_easy_setopt(h, o, v);
}
/* Write, header and read callbacks share one shape: (buffer, size, count, context) -> bytes handled. */
typedef size_t (*ccurl_data_cb)(char *ptr, size_t size, size_t nmemb, void *userdata);
static inline CURLcode ccurl_setopt_data_cb(CURL *h, CURLoption o, ccurl_data_cb cb) {
    return curl_easy_setopt(h, o, cb);
}
static inline CURLcode ccurl_setopt_slist(CURL *h, CURLoption o, struct curl_slist *l) {
    return curl_easy_setopt(h, o, l);
}
static inline CURLcode ccurl_getinfo_off(CURL *h, CURLINFO i, curl_off_t *out) {
    return curl_easy_getinfo(h, i, out);
}
static inline CURLcode ccurl_getinfo_string(CURL *h, CURLINFO i, char **out) {
    return curl_easy_getinfo(h, i, out);
}
/* Lets curl rewind an upload it must send again (a reused connection that closed, a redirect, auth). */
typedef int (*ccurl_seek_cb)(void *userdata, curl_off_t offset, int origin);
static inline CURLcode ccurl_setopt_seek_cb(CURL *h, ccurl_seek_cb cb) {
    return curl_easy_setopt(h, CURLOPT_SEEKFUNCTION, cb);
}
/* CURL_READFUNC_ABORT is a macro. */
static const size_t CCURL_READFUNC_ABORT = CURL_READFUNC_ABORT;
static const long CCURL_GLOBAL_DEFAULT = CURL_GLOBAL_DEFAULT;
/* CURLVERSION_NOW is a macro alias that Swift does not import. */
static inline const curl_version_info_data *ccurl_version_info(void) {
    return curl_version_info(CURLVERSION_NOW);
}
#endif
