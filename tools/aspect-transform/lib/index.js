// Vendored from @as-pect/transform 8.1.0 (MIT, see ../LICENSE). Patch: every enum value the transform
// uses (NodeKind, CommonFlags, Token, AssertionKind, ParameterKind) is read from the AssemblyScript
// compiler that loads it instead of being hard-coded from AS 0.27; NodeKind moved by one in AS 0.28
// (ClassDeclaration 51 -> 52, FieldDeclaration 54 -> 55, MethodDeclaration 58 -> 59, Namespace 59 -> 60).
// Without it expect<SomeClass>() fails to compile, or compares no fields at all.
import { Transform } from "assemblyscript/dist/transform.js";
import { NodeKind } from "assemblyscript/dist/assemblyscript.js";
import { createStrictEqualsMember } from "./createStrictEqualsMember.js";
import { createAddReflectedValueKeyValuePairsMember } from "./createAddReflectedValueKeyValuePairsMember.js";
// @ts-ignore
export default class AspectTransform extends Transform {
    /**
     * This method results in a pure AST transform that inserts a strictEquals member
     * into each ClassDeclaration.
     *
     * @param {Parser} parser - The AssemblyScript parser.
     */
    // @ts-ignore
    afterParse(parser) {
        // For backwards compatibility
        let sources = parser.program ? parser.program.sources : parser.sources;
        // for each program source
        for (const source of sources) {
            traverseStatements(source.statements);
        }
    }
}
function traverseStatements(statements) {
    // for each statement in the source
    for (const statement of statements) {
        // find each class declaration
        if (statement.kind === NodeKind.ClassDeclaration) {
            // cast and create a strictEquals function
            const classDeclaration = statement;
            classDeclaration.members.push(createStrictEqualsMember(classDeclaration));
            classDeclaration.members.push(createAddReflectedValueKeyValuePairsMember(classDeclaration));
        }
        else if (statement.kind === NodeKind.NamespaceDeclaration) {
            const namespaceDeclaration = statement;
            traverseStatements(namespaceDeclaration.members);
        }
    }
}
