/* Wiping what OpenSSL leaves behind on the stack. */
#ifndef SSYNC_WIPE_H
#define SSYNC_WIPE_H

/* Bytes of stack below the caller's frame that ssync_wipe_stack() overwrites: more than the
 * deepest OpenSSL call the library makes with secrets (CMS_decrypt copies the decrypted key
 * blob through a 4 KiB buffer on its own stack frame and does not clear it). */
#define SSYNC_WIPE_STACK_BYTES 32768

/* Overwrites the stack just below the caller's frame, where the callees it has returned from
 * left their locals: call it right after a library call that handled a secret in its own
 * stack buffers. */
void ssync_wipe_stack(void);

#endif
