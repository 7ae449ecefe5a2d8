// TcpTests.cs: Client.Connect("tcp://HOST:PORT", authkey) against a private xprocd that also
// listens on TCP loopback with an authkey file (docs/PROTOCOL.md §1.1): a remote and a local
// client share a queue; a wrong key is AccessDeniedException.

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
