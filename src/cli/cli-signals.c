/* vmkeep — the run's signals: SIGINT, SIGTERM and SIGHUP cancel the
 * workflows' GCancellable while a command that changes state runs
 * (commands.h: vk_cli_sig_guard_begin/_end), and end a command that only
 * reads at once (vk_cli_sig_release). */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <glib-unix.h>
#include <pthread.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>

#include "commands.h"

volatile sig_atomic_t vk_cli_interrupted;

/* A signal handler may not cancel a GCancellable (that takes a lock): it
 * writes the signal to a pipe, and a thread that never takes the guarded
 * signals itself reads it and cancels the run's context. */
static int sig_pipe[2] = { -1, -1 };

static void
on_signal (int sig)
{
  int saved = errno;
  vk_cli_interrupted = sig;
  unsigned char c = (unsigned char) sig;
  if (write (sig_pipe[1], &c, 1) < 0)
    { /* the pipe is full: a cancellation is already on its way */ }
  errno = saved;
}

static gpointer
sig_watch_thread (gpointer data)
{
  GCancellable *cancel = data;
  unsigned char c;
  for (;;)
    {
      gssize n = read (sig_pipe[0], &c, 1);
      if (n == 1)
        g_cancellable_cancel (cancel);
      else if (n == 0 || errno != EINTR)
        return NULL;
    }
}

static const int guarded[] = { SIGINT, SIGTERM, SIGHUP };

void
vk_cli_sig_guard_begin (VkCli *cli, VkSigGuard *g)
{
  /* (GLib before 2.78 takes FD_CLOEXEC alone here) */
  if (sig_pipe[0] < 0 && g_unix_open_pipe (sig_pipe, FD_CLOEXEC, NULL))
    {
      /* the reader blocks; only the handler's end must never block */
      g_unix_set_fd_nonblocking (sig_pipe[1], TRUE, NULL);
      sigset_t all, old;
      sigemptyset (&all);
      for (gsize i = 0; i < G_N_ELEMENTS (guarded); i++)
        sigaddset (&all, guarded[i]);
      pthread_sigmask (SIG_BLOCK, &all, &old);
      g_thread_unref (g_thread_new ("vmkeep-signals", sig_watch_thread, cli->ops->cancel));
      pthread_sigmask (SIG_SETMASK, &old, NULL);
    }
  struct sigaction sa;
  memset (&sa, 0, sizeof sa);
  sa.sa_handler = on_signal;
  sigemptyset (&sa.sa_mask);
  vk_cli_interrupted = 0;
  for (gsize i = 0; i < G_N_ELEMENTS (guarded); i++)
    sigaction (guarded[i], &sa, &g->old[i]);
}

void
vk_cli_sig_guard_end (VkSigGuard *g)
{
  for (gsize i = 0; i < G_N_ELEMENTS (guarded); i++)
    sigaction (guarded[i], &g->old[i], NULL);
}

void
vk_cli_sig_release (void)
{
  for (gsize i = 0; i < G_N_ELEMENTS (guarded); i++)
    signal (guarded[i], SIG_DFL);
}
