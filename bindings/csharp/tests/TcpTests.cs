// TcpTests.cs: XProcClient.Connect("tcp://HOST:PORT", authkey) against a private xprocd that also
// listens on TCP loopback with an authkey file (docs/PROTOCOL.md §1.2): a remote and a local
// client share a queue; a wrong key is AccessDeniedException. XProcClient.ConnectTls against one
// listening on tls:// with an openssl-made CA (docs/SECURITY.md §7).

using System;
using System.Collections.Generic;
using System.IO;
using System.Net;
using System.Net.Sockets;
using System.Text;

namespace XProc.Tests
{
    internal static class TcpTests
    {
        internal static IEnumerable<Test> All()
        {
            yield return new Test("tcp.connect_with_authkey", ConnectWithAuthkey);
            yield return new Test("tcp.connect_tls", ConnectTls);
        }

        /// <summary>Runs openssl in <paramref name="dir"/>; fails the test with its stderr.</summary>
        private static void OpenSsl(string dir, string args)
        {
            var info = new System.Diagnostics.ProcessStartInfo("openssl", args)
            {
                UseShellExecute = false,
                WorkingDirectory = dir,
                RedirectStandardError = true,
                RedirectStandardOutput = true,
            };
            using (var p = System.Diagnostics.Process.Start(info))
            {
                string err = p.StandardError.ReadToEnd();
                p.StandardOutput.ReadToEnd();
                p.WaitForExit();
                Assert.True(p.ExitCode == 0, "openssl " + args + ": " + err);
            }
        }

        private static void Chmod600(string path)
        {
            using (var chmod = System.Diagnostics.Process.Start(new System.Diagnostics.ProcessStartInfo("chmod", "600 \"" + path + "\"") { UseShellExecute = false }))
            {
                chmod.WaitForExit();
            }
        }

        /// <summary>tls://: a CA and a broker certificate for 127.0.0.1 made by openssl; the
        /// client checks the certificate and still proves the authkey.</summary>
        private static void ConnectTls()
        {
            string dir = Path.Combine(Path.GetTempPath(), Fixture.Name("tls"));
            Directory.CreateDirectory(dir);
            try
            {
                const string ec = "-newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes";
                OpenSsl(dir, "req -x509 " + ec + " -keyout ca.key -out ca.pem -days 2 -subj /CN=xproc-test-ca");
                OpenSsl(dir, "req " + ec + " -keyout broker.key -out broker.csr -subj /CN=127.0.0.1");
                File.WriteAllText(Path.Combine(dir, "san.ext"), "subjectAltName=IP:127.0.0.1\n");
                OpenSsl(dir, "x509 -req -in broker.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out broker.pem -days 2 -extfile san.ext");
                Chmod600(Path.Combine(dir, "broker.key"));
                byte[] key = Encoding.ASCII.GetBytes("csharp-tls-key");
                string keyFile = Path.Combine(dir, "authkey");
                File.WriteAllBytes(keyFile, key);
                Chmod600(keyFile);
                string endpoint = "tls://127.0.0.1:" + FreePort();
                string args = "--listen " + endpoint + " --tls-cert \"" + Path.Combine(dir, "broker.pem") +
                    "\" --tls-key \"" + Path.Combine(dir, "broker.key") + "\" --authkey-file \"" + keyFile + "\"";
                string ca = Path.Combine(dir, "ca.pem");
                using (var broker = new PrivateBroker(args))
                using (XProcClient remote = XProcClient.ConnectTls(endpoint, key, ca))
                using (XProcClient local = broker.Connect())
                using (XProcQueue rq = remote.Queue("cs-tls-q"))
                using (XProcQueue lq = local.Queue("cs-tls-q"))
                {
                    rq.Put("over tls");
                    Assert.Equal((object)"over tls", lq.Get(TimeSpan.FromSeconds(5)), "the local client gets the remote's item");
                    AccessDeniedException e = Assert.Throws<AccessDeniedException>(
                        () => XProcClient.ConnectTls(endpoint, key, ca, "elsewhere.example"));
                    Assert.True(e.Message.Contains("TLS handshake"), e.Message);
                }
            }
            finally
            {
                Directory.Delete(dir, true);
            }
        }

        /// <summary>A loopback port free right now (the broker binds it a moment later).</summary>
        private static int FreePort()
        {
            var l = new TcpListener(IPAddress.Loopback, 0);
            l.Start();
            int port = ((IPEndPoint)l.LocalEndpoint).Port;
            l.Stop();
            return port;
        }

        private static void ConnectWithAuthkey()
        {
            byte[] key = Encoding.ASCII.GetBytes("csharp-tcp-key");
            string keyFile = Path.Combine(Path.GetTempPath(), Fixture.Name("authkey"));
            File.WriteAllBytes(keyFile, key);
            using (var chmod = System.Diagnostics.Process.Start(new System.Diagnostics.ProcessStartInfo("chmod", "600 \"" + keyFile + "\"") { UseShellExecute = false }))
            {
                chmod.WaitForExit();
            }
            int port = FreePort();
            string endpoint = "tcp://127.0.0.1:" + port;
            try
            {
                using (var broker = new PrivateBroker("--listen " + endpoint + " --authkey-file \"" + keyFile + "\""))
                using (XProcClient remote = XProcClient.Connect(endpoint, key))
                using (XProcClient local = broker.Connect())
                using (XProcQueue rq = remote.Queue("cs-tcp-q"))
                using (XProcQueue lq = local.Queue("cs-tcp-q"))
                {
                    rq.Put(41L);
                    Assert.Equal((object)41L, lq.Get(TimeSpan.FromSeconds(5)), "the local client gets the remote's item");
                    AccessDeniedException e = Assert.Throws<AccessDeniedException>(
                        () => XProcClient.Connect(endpoint, Encoding.ASCII.GetBytes("wrong")));
                    Assert.True(e.Message.Contains("wrong authkey"), e.Message);
                }
            }
            finally
            {
                File.Delete(keyFile);
            }
        }
    }
}
