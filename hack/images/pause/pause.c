/*
 * pause: the process that holds a pod's namespaces open (the CRI "sandbox" container).
 *
 * Why a C program and not busybox `sleep`: this runs as PID 1 of its container, and the kernel
 * delivers no signal to PID 1 that it has no handler for. `sleep` would ignore SIGTERM, so every pod
 * stop would wait out the whole grace period and end in SIGKILL; and nothing would reap zombies left
 * by processes that share the PID namespace. This program installs handlers for exactly that: TERM and
 * INT end it with status 0, CHLD reaps every exited child. Built with `gcc -static` so the image needs
 * no libc and no dynamic loader.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static void on_terminate(int sig)
{
    (void)sig;
    _exit(0);
}

static void on_child(int sig)
{
    (void)sig;
    int saved = errno; /* the handler may interrupt code that inspects errno */
    while (waitpid(-1, NULL, WNOHANG) > 0) {
    }
    errno = saved;
}

static int install(int sig, void (*handler)(int))
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = handler;
    sa.sa_flags = SA_RESTART | (sig == SIGCHLD ? SA_NOCLDSTOP : 0);
    sigemptyset(&sa.sa_mask);
    return sigaction(sig, &sa, NULL);
}

int main(int argc, char **argv)
{
    if (argc > 1 && strcmp(argv[1], "-v") == 0) {
        puts("pause (cc-test)");
        return 0;
    }
    if (getpid() != 1)
        fputs("pause: warning: not running as PID 1\n", stderr);
    if (install(SIGINT, on_terminate) < 0 || install(SIGTERM, on_terminate) < 0 ||
        install(SIGCHLD, on_child) < 0) {
        perror("pause: sigaction");
        return 1;
    }
    for (;;)
        pause();
}
