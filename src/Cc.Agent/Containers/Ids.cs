namespace Cc.Agent.Containers;

// Container and exec ids become file names in the bundle directory, so they are checked before use:
// letters, digits, '_', '-', '.', not starting with '.', at most 128 characters (containerd's own ids
// and CRI's hex exec ids fit).
internal static class Ids
{
    public const int MaxLength = 128;

    public static void Validate(string id, string what, bool allowEmpty = false)
    {
        if (id.Length == 0)
        {
            if (allowEmpty)
            {
                return;
            }

            throw AgentErrorException.Invalid($"{what} is empty");
        }

        if (id.Length > MaxLength || id[0] == '.' || !id.All(c => char.IsAsciiLetterOrDigit(c) || c is '_' or '-' or '.'))
        {
            throw AgentErrorException.Invalid($"{what} \"{id}\" is not valid: use letters, digits, '_', '-', '.' (at most {MaxLength})");
        }
    }
}
