package xproc;

/**
 * {@code java -cp xproc.jar:jna.jar xproc.Version}: loads libxproc the way the binding does
 * and prints its version, or why it could not be loaded (exit 1). A setup check for users.
 */
public final class Version {
    private Version() {}

    public static void main(String[] args) {
        try {
            System.out.println("libxproc " + Client.libraryVersion());
        } catch (UnsatisfiedLinkError | NoClassDefFoundError e) {
            Throwable cause = e;
            while (cause.getCause() != null) {
                cause = cause.getCause();
            }
            System.err.println("xproc: " + e.getMessage());
            System.exit(1);
        }
    }
}
