/*
 * reflect.h - gRPC server reflection (grpc.reflection.v1) from an embedded
 * FileDescriptorSet, so that grpcurl, grpc_cli or a reflection client can
 * list lagranged's services and fetch their schemas without a .proto.
 *
 * Owns: an index of the descriptor set (file names, and every fully
 * qualified symbol: messages, nested messages, enums, services, methods),
 * and the answer to one ServerReflectionRequest. The descriptor set is
 * protoc's own output (protoc-c -o), walked here as plain protobuf wire
 * format: only the fields named above are read, everything else skipped.
 *
 * Answers: list_services -> the services given to reflect_new;
 * file_by_filename / file_containing_symbol -> that file and the files it
 * depends on, transitively, each as serialized FileDescriptorProto bytes;
 * all_extension_numbers_of_type -> an empty list for a known message
 * (proto3: no extensions); anything unknown -> error_response NOT_FOUND
 * (5) naming it; file_containing_extension -> NOT_FOUND.
 *
 * Threading: a reflect is immutable after reflect_new; answers may be made
 * from any thread.
 */
#ifndef LG_API_REFLECT_H
#define LG_API_REFLECT_H

#include <stddef.h>
#include <stdint.h>

typedef struct reflect reflect;

/* Index desc (a serialized FileDescriptorSet, which must outlive r).
 * services: fully qualified names listed by list_services. Returns 0 or
 * LG_EMODEL / -ENOMEM with the reason in err. */
int reflect_new(const uint8_t *desc, size_t len, const char *const *services,
                int n_services, reflect **out, char *err, size_t errlen);
void reflect_free(reflect *r);

/* Answer one serialized ServerReflectionRequest with a new malloc'd
 * serialized ServerReflectionResponse in *resp. Returns 0, LG_EMODEL when
 * req does not parse (the caller answers INVALID_ARGUMENT), or -ENOMEM. */
int reflect_answer(const reflect *r, const uint8_t *req, size_t len,
                   uint8_t **resp, size_t *resp_len);

/* Is sym (e.g. "lagrange.v1.Scheduler") a symbol of the set? */
int reflect_has_symbol(const reflect *r, const char *sym);

#endif
