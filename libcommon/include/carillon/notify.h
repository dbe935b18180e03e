/* systemd readiness (Type=notify) without libsystemd: a datagram to $NOTIFY_SOCKET. Does
 * nothing when the variable is unset, so daemons call it unconditionally. */
#ifndef CARILLON_NOTIFY_H
#define CARILLON_NOTIFY_H

/* Sends state (e.g. "READY=1", "STOPPING=1", "RELOADING=1") to the service manager. Returns 0,
 * 0 as well when not run by systemd, or a negative errno. */
int cr_notify(const char *state);

#endif
